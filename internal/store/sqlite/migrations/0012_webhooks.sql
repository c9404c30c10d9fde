-- Webhooks of the device maker, the outbox of their deliveries written in
-- the transaction of the change that caused each event, the log of
-- delivery attempts, the per-product pre-bind hook, and the detail of an
-- activation's end (the reason a pre-bind hook gave for refusing it).
-- Times are Unix nanoseconds (UTC).

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    events        TEXT NOT NULL, -- ' device.online device.bound ': each type between spaces
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE webhook_outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    body        BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0
);

-- The head of each webhook's queue per device, and what is due.
CREATE INDEX webhook_outbox_order ON webhook_outbox (webhook_id, device_id, seq);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_at);

CREATE TABLE webhook_deliveries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT NOT NULL,
    outcome     TEXT NOT NULL, -- delivered, retry, expired
    duration    INTEGER NOT NULL
);

CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);

CREATE TABLE product_bind_hooks (
    product_id    TEXT PRIMARY KEY REFERENCES products (id),
    url           TEXT NOT NULL,
    timeout       INTEGER NOT NULL, -- nanoseconds
    on_failure    TEXT NOT NULL,    -- deny or allow
    sealed_secret BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

ALTER TABLE activations ADD COLUMN detail TEXT NOT NULL DEFAULT '';
