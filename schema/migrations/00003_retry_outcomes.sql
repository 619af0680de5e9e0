-- What a retried or failed operation needs to find again: why a purchase
-- failed, and what a traffic batch changed (so a retried write reports the
-- outcome of the attempt that committed).

-- +goose Up

ALTER TABLE purchases ADD COLUMN failure_reason text;
ALTER TABLE traffic_batches ADD COLUMN updated integer NOT NULL DEFAULT 0;

-- +goose Down

ALTER TABLE traffic_batches DROP COLUMN updated;
ALTER TABLE purchases DROP COLUMN failure_reason;
