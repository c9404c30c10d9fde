-- Webhooks of the device maker, the outbox of their deliveries written in
-- the transaction of the change that caused each event, the log of
-- delivery attempts, the per-product pre-bind hook, and the detail of an
-- activation's end (the reason a pre-bind hook gave for refusing it).
-- Times are Unix nanoseconds (UTC).

CREATE TABLE webhooks (
    id            text PRIMARY KEY,
    url           text NOT NULL,
    events        text NOT NULL, -- ' device.online device.bound ': each type between spaces
    sealed_secret bytea NOT NULL,
    created_at    bigint NOT NULL
);

CREATE TABLE webhook_outbox (
    seq         bigserial PRIMARY KEY,
    webhook_id  text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    text NOT NULL,
    type        text NOT NULL,
    device_id   text NOT NULL,
    occurred_at bigint NOT NULL,
    body        bytea NOT NULL,
    attempts    bigint NOT NULL DEFAULT 0,
    next_at     bigint NOT NULL,
    lease_owner text NOT NULL DEFAULT '',
    lease_until bigint NOT NULL DEFAULT 0
);

-- The head of each webhook's queue per device, and what is due.
CREATE INDEX webhook_outbox_order ON webhook_outbox (webhook_id, device_id, seq);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at);

CREATE TABLE webhook_deliveries (
    seq         bigserial PRIMARY KEY,
    webhook_id  text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    text NOT NULL,
    type        text NOT NULL,
    device_id   text NOT NULL,
    attempt     bigint NOT NULL,
    at          bigint NOT NULL,
    status_code bigint NOT NULL,
    error       text NOT NULL,
    outcome     text NOT NULL, -- delivered, retry, expired
    duration    bigint NOT NULL
);

CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

CREATE TABLE product_bind_hooks (
    product_id    text PRIMARY KEY REFERENCES products (id),
    url           text NOT NULL,
    timeout       bigint NOT NULL, -- nanoseconds
    on_failure    text NOT NULL,    -- deny or allow
    sealed_secret bytea NOT NULL,
    created_at    bigint NOT NULL
);

ALTER TABLE activations ADD COLUMN detail text NOT NULL DEFAULT '';
