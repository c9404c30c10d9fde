-- Device PSKs (sealed), per-product plain CoAP, the transport of a
-- registration, and the audit log.

ALTER TABLE devices ADD COLUMN psk_sealed BLOB;
ALTER TABLE products ADD COLUMN plain_coap INTEGER NOT NULL DEFAULT 1;
ALTER TABLE registrations ADD COLUMN secure INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    user_id     TEXT NOT NULL DEFAULT '',
    device_id   TEXT NOT NULL DEFAULT '',
    remote_addr TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_device ON audit_log (device_id, id);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
