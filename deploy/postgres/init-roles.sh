#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised
# (/docker-entrypoint-initdb.d). vpnflow gets its own role and database;
# Temporal gets a role allowed to create its two databases (temporal-schema
# does that). Changing a password later takes ALTER ROLE, not this script.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
	--set app_password="$VPNFLOW_DB_PASSWORD" \
	--set temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE vpnflow LOGIN PASSWORD :'app_password';
CREATE DATABASE vpnflow OWNER vpnflow;
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
SQL
