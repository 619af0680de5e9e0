-- Several Xray nodes. A node is a row: where its API is, what clients
-- connect to (host, port and the REALITY settings of their links), which
-- region it serves, how many users it takes, and its state:
--   enabled   takes new users;
--   draining  keeps its users and takes no new ones;
--   disabled  out of service: takes no new users and is not probed,
--             watched or reconciled.
-- Every column has a default, so the node of a deployment from before
-- (the one the worker registers from its environment) stays valid; the
-- worker fills in its REALITY settings at its next start.
--
-- The health columns are written by the health check's probe of each node:
-- checked_at when it last looked, healthy_at when the node last answered,
-- health_error what the last failed look saw ('' when it answered).
--
-- users.region is the region a user chose before their first key ('' =
-- any); placement prefers it. subscriptions_live_node_idx serves the
-- per-node reconciliation's pages and placement's counts of live users.

-- +goose Up

ALTER TABLE nodes
    ADD COLUMN region             text        NOT NULL DEFAULT ''
        CONSTRAINT nodes_region_check CHECK (region ~ '^([a-z0-9][a-z0-9-]{0,31})?$'),
    ADD COLUMN reality_public_key text        NOT NULL DEFAULT '',
    ADD COLUMN reality_sni        text        NOT NULL DEFAULT '',
    ADD COLUMN reality_short_id   text        NOT NULL DEFAULT ''
        CONSTRAINT nodes_reality_short_id_check CHECK (reality_short_id ~ '^([0-9a-f]{2}){0,8}$'),
    ADD COLUMN capacity           integer     NOT NULL DEFAULT 10000
        CONSTRAINT nodes_capacity_check CHECK (capacity > 0),
    ADD COLUMN state              text        NOT NULL DEFAULT 'enabled'
        CONSTRAINT nodes_state_check CHECK (state IN ('enabled', 'draining', 'disabled')),
    ADD COLUMN updated_at         timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN checked_at         timestamptz,
    ADD COLUMN healthy_at         timestamptz,
    ADD COLUMN health_error       text        NOT NULL DEFAULT '';

ALTER TABLE users
    ADD COLUMN region text NOT NULL DEFAULT ''
        CONSTRAINT users_region_check CHECK (region ~ '^([a-z0-9][a-z0-9-]{0,31})?$');

CREATE INDEX subscriptions_live_node_idx ON subscriptions (node_id, user_id) WHERE status IN ('trial', 'active');

-- +goose Down

DROP INDEX subscriptions_live_node_idx;
ALTER TABLE users DROP COLUMN region;
ALTER TABLE nodes
    DROP COLUMN health_error,
    DROP COLUMN healthy_at,
    DROP COLUMN checked_at,
    DROP COLUMN updated_at,
    DROP COLUMN state,
    DROP COLUMN capacity,
    DROP COLUMN reality_short_id,
    DROP COLUMN reality_sni,
    DROP COLUMN reality_public_key,
    DROP COLUMN region;
