-- Failover of Xray nodes (issue 12, item 2).
--
-- A node whose health probes have failed for NODE_FAILOVER_AFTER is failed
-- over: the health check sets it to 'draining' (it takes no new users and
-- is still probed) and starts the evacuation that moves its users to
-- healthy nodes. failed_over_at is when that happened: a node is not
-- failed over again within NODE_FAILOVER_COOLDOWN of it, so a node that
-- flaps moves its users once, not at every flap. An operator re-enables
-- the node (/node enable) once it is fixed; users already moved stay
-- where they are.

-- +goose Up

ALTER TABLE nodes ADD COLUMN failed_over_at timestamptz;

-- +goose Down

ALTER TABLE nodes DROP COLUMN failed_over_at;
