-- The notice outbox: messages to users written in the transaction that
-- makes them true, and sent by one draining workflow at Telegram's pace.
--
-- An expiry storm (everyone who bought on launch day) ends thousands of
-- periods in the same minute. Each user's workflow expires its user at
-- the pace of the Temporal server, so notices sent from those workflows
-- came at that pace too (14-19/s on the dev server). The expiry's own
-- transaction, and the revocation sweep for rows still marked live, write
-- the "subscription expired" notice here instead; the NoticeOutbox
-- workflow claims batches and sends them at the worker's Telegram pace.
--
-- dedup names the fact a notice reports (one per user and period end), so
-- the sweep and the user's workflow, or a retried transaction, write it
-- once. while_expires, when set, is the period end the notice is about: a
-- renewal that moved the expiry before the notice left makes it moot, and
-- it is dropped, not sent. claimed_until is the lease of the drain run
-- sending it; a notice whose lease ran out (the worker died) is claimed
-- again. Sent and dropped rows are kept a week for the dedup, then pruned.

-- +goose Up

CREATE TABLE notice_outbox (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (telegram_id),
    dedup         text        NOT NULL CONSTRAINT notice_outbox_dedup_key UNIQUE,
    notice        jsonb       NOT NULL,
    while_expires timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    claimed_until timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    sent_at       timestamptz,
    dropped       text
);
CREATE INDEX notice_outbox_pending_idx ON notice_outbox (id) WHERE sent_at IS NULL AND dropped IS NULL;
CREATE INDEX notice_outbox_created_idx ON notice_outbox (created_at);

-- +goose Down

DROP TABLE notice_outbox;
