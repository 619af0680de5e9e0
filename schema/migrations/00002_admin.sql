-- Admin tools: broadcasts with per-recipient delivery records, percent
-- promo discounts waiting for a purchase, and the traffic batches already
-- added (so a retried traffic write never counts twice).

-- +goose Up

CREATE TABLE broadcasts (
    id          uuid        PRIMARY KEY,
    admin_id    bigint      NOT NULL,
    -- Telegram's limit is 4096 UTF-16 units; the bot checks that, this
    -- only keeps the row sane.
    text        text        NOT NULL CONSTRAINT broadcasts_text_check CHECK (length(text) BETWEEN 1 AND 4096),
    -- Recipients are the users who existed when the broadcast was created
    -- and are not banned; total counts them then.
    total       integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    sent        integer     NOT NULL DEFAULT 0,
    skipped     integer     NOT NULL DEFAULT 0,
    failed      integer     NOT NULL DEFAULT 0
);

-- One row per recipient handled, written only after the outcome is known:
-- the primary key is what keeps a resumed broadcast from messaging anyone
-- twice.
CREATE TABLE broadcast_deliveries (
    broadcast_id uuid        NOT NULL REFERENCES broadcasts (id),
    user_id      bigint      NOT NULL REFERENCES users (telegram_id),
    status       text        NOT NULL CONSTRAINT broadcast_deliveries_status_check CHECK (status IN ('sent', 'skipped', 'failed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT broadcast_deliveries_pkey PRIMARY KEY (broadcast_id, user_id)
);

-- A redeemed percent code waits here for the user's next plan purchase.
-- purchase_id is the purchase it was applied to; a purchase that ends
-- unpaid gives it back.
CREATE TABLE promo_discounts (
    code        text        NOT NULL,
    user_id     bigint      NOT NULL,
    percent     integer     NOT NULL CONSTRAINT promo_discounts_percent_check CHECK (percent BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    purchase_id uuid        CONSTRAINT promo_discounts_purchase_key UNIQUE,
    applied_at  timestamptz,
    CONSTRAINT promo_discounts_pkey PRIMARY KEY (code, user_id),
    CONSTRAINT promo_discounts_redemption_fkey FOREIGN KEY (code, user_id) REFERENCES promo_redemptions (code, user_id),
    CONSTRAINT promo_discounts_applied_consistent CHECK ((purchase_id IS NULL) = (applied_at IS NULL))
);
CREATE INDEX promo_discounts_user_idx ON promo_discounts (user_id);

-- Xray traffic readings already added to subscriptions, by batch id.
CREATE TABLE traffic_batches (
    id         text        PRIMARY KEY,
    users      integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX traffic_batches_created_idx ON traffic_batches (created_at);

-- +goose Down

DROP TABLE traffic_batches;
DROP TABLE promo_discounts;
DROP TABLE broadcast_deliveries;
DROP TABLE broadcasts;
