-- Device PSKs (sealed), per-product plain CoAP, the transport of a
-- registration, and the audit log.

ALTER TABLE devices ADD COLUMN psk_sealed bytea;
ALTER TABLE products ADD COLUMN plain_coap boolean NOT NULL DEFAULT true;
ALTER TABLE registrations ADD COLUMN secure boolean NOT NULL DEFAULT false;

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          bigint NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL,
    actor       text NOT NULL,
    user_id     text NOT NULL DEFAULT '',
    device_id   text NOT NULL DEFAULT '',
    remote_addr text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_device ON audit_log (device_id, id);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
