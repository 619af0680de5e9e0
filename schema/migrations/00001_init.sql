-- The invariants that keep money and access safe are constraints here, not
-- checks in Go: a retried activity, a second worker or a hand-written UPDATE
-- all meet the same wall. Money is integer minor units (cents, Stars).
-- Constraint names are part of the contract: internal/store maps them to
-- typed errors.

-- +goose Up

CREATE TABLE nodes (
    id          smallserial PRIMARY KEY,
    name        text        NOT NULL CONSTRAINT nodes_name_key UNIQUE,
    api_addr    text        NOT NULL,
    inbound_tag text        NOT NULL,
    host        text        NOT NULL,
    port        integer     NOT NULL CONSTRAINT nodes_port_check CHECK (port BETWEEN 1 AND 65535),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    telegram_id bigint      PRIMARY KEY CONSTRAINT users_telegram_id_check CHECK (telegram_id > 0),
    username    text        NOT NULL DEFAULT '',
    first_name  text        NOT NULL DEFAULT '',
    language    text        NOT NULL DEFAULT 'en' CONSTRAINT users_language_check CHECK (language ~ '^[a-z]{2,3}(-[a-z0-9]{1,8})*$'),
    ref_code    text        NOT NULL CONSTRAINT users_ref_code_key UNIQUE
                            CONSTRAINT users_ref_code_check CHECK (ref_code ~ '^[a-z0-9]{6,16}$'),
    referrer_id bigint      REFERENCES users (telegram_id),
    balance     bigint      NOT NULL DEFAULT 0 CONSTRAINT users_balance_check CHECK (balance >= 0),
    bot_blocked boolean     NOT NULL DEFAULT false,
    banned      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_referrer_not_self CHECK (referrer_id <> telegram_id)
);
-- Telegram usernames are case-insensitive; admins look users up by them.
CREATE INDEX users_username_idx ON users (lower(username)) WHERE username <> '';
CREATE INDEX users_referrer_idx ON users (referrer_id) WHERE referrer_id IS NOT NULL;

-- One subscription (one VLESS identity) per user; renewals move expires_at.
CREATE TABLE subscriptions (
    user_id       bigint      PRIMARY KEY REFERENCES users (telegram_id),
    node_id       smallint    NOT NULL REFERENCES nodes (id),
    -- vless_uuid is a bearer secret: whoever has it has the VPN.
    vless_uuid    uuid        NOT NULL CONSTRAINT subscriptions_vless_uuid_key UNIQUE,
    -- pending_uuid is set while a reissue is in progress; previous_uuid is
    -- the key the last reissue replaced, so a retried commit can answer.
    pending_uuid  uuid        CONSTRAINT subscriptions_pending_uuid_key UNIQUE,
    previous_uuid uuid,
    xray_email    text        NOT NULL CONSTRAINT subscriptions_xray_email_key UNIQUE,
    status        text        NOT NULL CONSTRAINT subscriptions_status_check CHECK (status IN ('trial', 'active', 'expired', 'banned')),
    expires_at    timestamptz NOT NULL,
    auto_renew    boolean     NOT NULL DEFAULT false,
    is_trial      boolean     NOT NULL DEFAULT false,
    plan_id       text        NOT NULL DEFAULT '',
    traffic_up    bigint      NOT NULL DEFAULT 0 CONSTRAINT subscriptions_traffic_up_check CHECK (traffic_up >= 0),
    traffic_down  bigint      NOT NULL DEFAULT 0 CONSTRAINT subscriptions_traffic_down_check CHECK (traffic_down >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_pending_differs CHECK (pending_uuid <> vless_uuid)
);
-- Keys that should be live in Xray: reconciliation pages through these by
-- user_id, and expiry sweeps look at expires_at.
CREATE INDEX subscriptions_live_user_idx ON subscriptions (user_id) WHERE status IN ('trial', 'active');
CREATE INDEX subscriptions_live_expires_idx ON subscriptions (expires_at) WHERE status IN ('trial', 'active');

-- The primary key is the rule "one trial per user".
CREATE TABLE trials (
    user_id    bigint      CONSTRAINT trials_pkey PRIMARY KEY REFERENCES users (telegram_id),
    started_at timestamptz NOT NULL DEFAULT now(),
    ends_at    timestamptz NOT NULL,
    CONSTRAINT trials_ends_after_start CHECK (ends_at > started_at)
);

-- A purchase's id is chosen by the caller (the workflow) so that creating it
-- is idempotent.
CREATE TABLE purchases (
    id                  uuid        PRIMARY KEY,
    user_id             bigint      NOT NULL REFERENCES users (telegram_id),
    kind                text        NOT NULL CONSTRAINT purchases_kind_check CHECK (kind IN ('subscription', 'topup')),
    plan_id             text        NOT NULL DEFAULT '',
    days                integer     NOT NULL DEFAULT 0 CONSTRAINT purchases_days_check CHECK (days >= 0 AND days <= 36600),
    amount              bigint      NOT NULL CONSTRAINT purchases_amount_check CHECK (amount > 0),
    currency            text        NOT NULL CONSTRAINT purchases_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    provider            text        NOT NULL CONSTRAINT purchases_provider_check CHECK (provider IN ('cryptopay', 'stars', 'balance')),
    provider_invoice_id text,
    provider_charge_id  text,
    pay_url             text,
    status              text        NOT NULL DEFAULT 'pending'
                                    CONSTRAINT purchases_status_check CHECK (status IN ('pending', 'invoiced', 'paid', 'expired', 'failed', 'refunded')),
    invoice_expires_at  timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    paid_at             timestamptz,
    refunded_at         timestamptz,
    -- A provider's invoice or charge can pay for one purchase only.
    CONSTRAINT purchases_provider_invoice_key UNIQUE (provider, provider_invoice_id),
    CONSTRAINT purchases_provider_charge_key UNIQUE (provider, provider_charge_id),
    CONSTRAINT purchases_subscription_days CHECK (kind <> 'subscription' OR days > 0),
    -- Topping up the balance from the balance is meaningless.
    CONSTRAINT purchases_topup_not_from_balance CHECK (kind <> 'topup' OR provider <> 'balance'),
    CONSTRAINT purchases_paid_has_time CHECK (status NOT IN ('paid', 'refunded') OR paid_at IS NOT NULL),
    CONSTRAINT purchases_refunded_has_time CHECK (status <> 'refunded' OR refunded_at IS NOT NULL)
);
CREATE INDEX purchases_user_idx ON purchases (user_id, created_at DESC);
CREATE INDEX purchases_paid_at_idx ON purchases (paid_at) WHERE status = 'paid';
CREATE INDEX purchases_open_idx ON purchases (invoice_expires_at) WHERE status IN ('pending', 'invoiced');

-- Every money movement. (kind, reference) is unique, so a retried credit
-- can never be written twice. Kinds that move users.balance: topup,
-- balance_debit, balance_refund, topup_reversal, referral_bonus.
CREATE TABLE ledger (
    id         bigserial   PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (telegram_id),
    amount     bigint      NOT NULL,
    currency   text        NOT NULL CONSTRAINT ledger_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    kind       text        NOT NULL,
    reference  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_kind_reference_key UNIQUE (kind, reference)
);
CREATE INDEX ledger_user_idx ON ledger (user_id, created_at);

-- Time given without payment (admin gifts, promo days); the key makes each
-- grant happen once however often it is retried.
CREATE TABLE grants (
    user_id    bigint      NOT NULL REFERENCES users (telegram_id),
    kind       text        NOT NULL CONSTRAINT grants_kind_check CHECK (kind ~ '^[a-z][a-z0-9_]{0,31}$'),
    reference  text        NOT NULL,
    duration   interval    NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grants_pkey PRIMARY KEY (user_id, kind, reference)
);

-- One referral (and so at most one bonus) per referred user.
CREATE TABLE referrals (
    referred_id       bigint      PRIMARY KEY REFERENCES users (telegram_id),
    referrer_id       bigint      NOT NULL REFERENCES users (telegram_id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    bonus_paid_at     timestamptz,
    bonus_purchase_id uuid        REFERENCES purchases (id),
    CONSTRAINT referrals_not_self CHECK (referred_id <> referrer_id),
    CONSTRAINT referrals_bonus_consistent CHECK ((bonus_paid_at IS NULL) = (bonus_purchase_id IS NULL))
);
CREATE INDEX referrals_referrer_idx ON referrals (referrer_id);

CREATE TABLE promo_codes (
    code       text        PRIMARY KEY CONSTRAINT promo_codes_code_check CHECK (code ~ '^[A-Z0-9_-]{3,32}$'),
    kind       text        NOT NULL CONSTRAINT promo_codes_kind_check CHECK (kind IN ('days', 'percent')),
    value      integer     NOT NULL CONSTRAINT promo_codes_value_check CHECK (value > 0 AND (kind <> 'percent' OR value <= 100)),
    max_uses   integer     NOT NULL CONSTRAINT promo_codes_max_uses_check CHECK (max_uses > 0),
    -- Concurrent redemptions serialise on the row; the one that would pass
    -- max_uses fails this check.
    used       integer     NOT NULL DEFAULT 0 CONSTRAINT promo_codes_used_check CHECK (used >= 0 AND used <= max_uses),
    created_by bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);

CREATE TABLE promo_redemptions (
    code        text        NOT NULL REFERENCES promo_codes (code),
    user_id     bigint      NOT NULL REFERENCES users (telegram_id),
    redeemed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT promo_redemptions_pkey PRIMARY KEY (code, user_id)
);
CREATE INDEX promo_redemptions_user_idx ON promo_redemptions (user_id);

-- VPN lifecycle events. No foreign key: an audit write must never fail.
-- Never put a VLESS UUID in details.
CREATE TABLE audit_log (
    id         bigserial   PRIMARY KEY,
    user_id    bigint,
    event      text        NOT NULL,
    details    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, created_at);

-- +goose Down

DROP TABLE audit_log;
DROP TABLE promo_redemptions;
DROP TABLE promo_codes;
DROP TABLE referrals;
DROP TABLE grants;
DROP TABLE ledger;
DROP TABLE purchases;
DROP TABLE trials;
DROP TABLE subscriptions;
DROP TABLE users;
DROP TABLE nodes;
