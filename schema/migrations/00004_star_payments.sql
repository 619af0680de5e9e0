-- Payments that arrive outside the Purchase workflow's normal path.
--
-- star_payments is written by the bot as the first thing it does with a
-- successful_payment (go-telegram/bot acknowledges the update before the
-- handler runs, and Telegram never sends it again), and by the payments
-- sweep for a Stars transaction Telegram lists that the database does not
-- know. A row stays unhandled until its purchase is paid with this very
-- charge (outcome 'credited') or the charge is given back (outcome
-- 'refunded'); the sweep hands every row left unhandled for a while to
-- its purchase/<id> workflow again.

-- +goose Up

CREATE TABLE star_payments (
    charge_id   text        PRIMARY KEY,
    user_id     bigint      NOT NULL,
    -- NULL when the invoice payload is not a purchase id.
    purchase_id uuid,
    amount      bigint      NOT NULL,
    currency    text        NOT NULL DEFAULT 'XTR',
    -- bot or sweep: who recorded it.
    source      text        NOT NULL CONSTRAINT star_payments_source_check CHECK (source IN ('bot', 'sweep')),
    received_at timestamptz NOT NULL DEFAULT now(),
    handled_at  timestamptz,
    outcome     text        CONSTRAINT star_payments_outcome_check CHECK (outcome IN ('credited', 'refunded', 'refund_failed')),
    CONSTRAINT star_payments_handled_consistent CHECK ((handled_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX star_payments_unhandled_idx ON star_payments (received_at) WHERE handled_at IS NULL;

-- Where the payments sweep stopped reading a provider's history
-- (getStarTransactions is read by offset, oldest first).
CREATE TABLE payment_sweep_cursors (
    name     text   PRIMARY KEY,
    position bigint NOT NULL CONSTRAINT payment_sweep_cursors_position_check CHECK (position >= 0)
);

-- A paid Crypto Pay invoice that could not be credited (its purchase had
-- failed or is unknown) and was reported to the admins instead. Crypto Pay
-- has no refund API, so this row is the durable record an admin acts on,
-- and the payments sweep does not report the invoice again.
CREATE TABLE payment_reports (
    provider    text        NOT NULL,
    reference   text        NOT NULL,
    purchase_id uuid,
    reason      text        NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_reports_pkey PRIMARY KEY (provider, reference)
);
CREATE INDEX payment_reports_purchase_idx ON payment_reports (purchase_id);

-- +goose Down

DROP TABLE payment_reports;

DROP TABLE payment_sweep_cursors;
DROP TABLE star_payments;
