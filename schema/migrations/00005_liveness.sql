-- Processes watching each other, and one bot per token.
--
-- heartbeats holds one row per process role (bot, worker): each process
-- writes its own with one short statement every few seconds, saying whether
-- its loops make progress, and reads the other's. A role whose row goes
-- stale is down or stuck; the other one tells the admins.
--
-- bot_lease lets one bot process poll a token at a time: Telegram answers
-- 409 Conflict to all but the latest getUpdates, so two pollers steal each
-- other's updates. The holder renews its row; the others stand by until it
-- expires. token_hash is a digest, never the token.

-- +goose Up

CREATE TABLE heartbeats (
    process  text        PRIMARY KEY CONSTRAINT heartbeats_process_check CHECK (process IN ('bot', 'worker')),
    instance text        NOT NULL,
    healthy  boolean     NOT NULL,
    detail   text        NOT NULL DEFAULT '',
    beat_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bot_lease (
    token_hash  text        PRIMARY KEY,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- +goose Down

DROP TABLE bot_lease;
DROP TABLE heartbeats;
