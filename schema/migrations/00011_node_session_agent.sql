-- Session agents of nodes on other machines (issue 12, item 4).
--
-- A revoked key's open connections are ended through the kernel, from
-- inside the node's network namespace with CAP_NET_ADMIN there
-- (internal/xray/disconnect.go). A worker can do that only for a node on
-- its own machine. Any other node runs `worker session-agent` beside its
-- Xray, and agent_url is where the workers reach it (http or https,
-- scheme://host:port). '' means the worker ends the node's sessions itself,
-- as before.

-- +goose Up

ALTER TABLE nodes ADD COLUMN agent_url text NOT NULL DEFAULT ''
    CONSTRAINT nodes_agent_url_check CHECK (agent_url = '' OR agent_url ~ '^https?://[^/?#@]+/?$');

-- +goose Down

ALTER TABLE nodes DROP COLUMN agent_url;
