-- Traffic of revoked keys: what "revoked" is checked against.
--
-- A revoked key (expired, banned, or replaced by a reissue) leaves Xray and
-- its open connections are ended, so Xray must count no more bytes for it.
-- Each traffic reading records here the bytes of keys that had been revoked
-- well before the reading began (the grace covers the removal's lag); the
-- health check reports any such key as "Revocation" down and tells the
-- admins once. One row per key email, with the totals seen.
--
-- traffic_batches.read_at is when a reading reset Xray's counters, so the
-- next reading knows where its bytes start; revoked counts the keys a batch
-- found, for a retried write to report.

-- +goose Up

CREATE TABLE revoked_traffic (
    email      text        PRIMARY KEY,
    user_id    bigint      NOT NULL,
    revoked_at timestamptz NOT NULL,
    up         bigint      NOT NULL CONSTRAINT revoked_traffic_up_check CHECK (up >= 0),
    down       bigint      NOT NULL CONSTRAINT revoked_traffic_down_check CHECK (down >= 0),
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_traffic_last_seen_idx ON revoked_traffic (last_seen);

ALTER TABLE traffic_batches ADD COLUMN read_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE traffic_batches ADD COLUMN revoked integer NOT NULL DEFAULT 0;
CREATE INDEX traffic_batches_read_idx ON traffic_batches (read_at);

-- +goose Down

DROP INDEX traffic_batches_read_idx;
ALTER TABLE traffic_batches DROP COLUMN revoked;
ALTER TABLE traffic_batches DROP COLUMN read_at;
DROP TABLE revoked_traffic;
