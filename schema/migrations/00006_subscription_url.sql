-- The secret of each user's subscription URL (<base>/sub/<url_token>), which
-- VPN apps import once and refresh on their own.
--
-- url_token is a bearer secret like vless_uuid: whoever has it can read the
-- user's keys. It is stored (not only its digest) because the key message
-- and "My subscription" show the URL again. Requests find the row by
-- url_token_hash, the SHA-256 of the token, so the index search compares
-- digests, never the secret itself, and its timing says nothing about it.
--
-- The application mints tokens from crypto/rand (32 bytes, base64url) and
-- rotates the token in the transaction that commits a reissued key. The
-- default is for rows written without one (existing rows here, and seeds
-- written with raw SQL): 32 bytes from two gen_random_uuid() calls, which
-- PostgreSQL draws from pg_strong_random (244 random bits), in the same
-- 43-character base64url form.

-- +goose Up

ALTER TABLE subscriptions
    ADD COLUMN url_token text NOT NULL
        DEFAULT rtrim(translate(encode(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 'base64'), '+/', '-_'), '=')
        CONSTRAINT subscriptions_url_token_check CHECK (url_token ~ '^[A-Za-z0-9_-]{43}$');
-- The token's characters are all ASCII and none is a backslash, so the
-- text-to-bytea cast (immutable, unlike convert_to) gives its bytes as is.
ALTER TABLE subscriptions
    ADD COLUMN url_token_hash bytea NOT NULL GENERATED ALWAYS AS (sha256(url_token::bytea)) STORED;
ALTER TABLE subscriptions
    ADD CONSTRAINT subscriptions_url_token_hash_key UNIQUE (url_token_hash);

-- +goose Down

ALTER TABLE subscriptions DROP COLUMN url_token_hash;
ALTER TABLE subscriptions DROP COLUMN url_token;
