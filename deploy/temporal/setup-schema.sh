#!/bin/sh
# Creates Temporal's databases on PostgreSQL and applies every schema version
# this admin-tools image carries. Re-running is safe: setup-schema keeps a
# newer version and update-schema applies only what is missing. The password
# comes from SQL_PASSWORD.
set -eu

sql() {
	temporal-sql-tool --plugin postgres12 --ep postgres -p 5432 -u temporal "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
	db=${pair%%:*}
	dir=/etc/temporal/schema/postgresql/v12/${pair#*:}/versioned
	# create fails when the database exists; a real failure (wrong password,
	# no server) makes the next command fail too.
	sql --db "$db" create || echo "database $db not created; assuming it exists"
	sql --db "$db" setup-schema -v 0.0
	sql --db "$db" update-schema -d "$dir"
done
echo "temporal schema is up to date"
