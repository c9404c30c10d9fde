-- Products, provisioned devices, their LwM2M registrations and queued downlinks.
-- Times are Unix nanoseconds (UTC).

CREATE TABLE products (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    auto_register INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

INSERT INTO products (id, name, auto_register, created_at)
VALUES ('default', 'Generic NB-IoT device', 0, CAST(unixepoch('subsec') * 1000000000 AS INTEGER));

CREATE TABLE devices (
    id                  TEXT PRIMARY KEY,
    product_id          TEXT NOT NULL REFERENCES products (id),
    imei                TEXT NOT NULL UNIQUE,
    nb_id               TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    first_registered_at INTEGER
);

CREATE INDEX devices_product ON devices (product_id, id);

CREATE TABLE registrations (
    id            TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL UNIQUE REFERENCES devices (id),
    endpoint      TEXT NOT NULL,
    lifetime      INTEGER NOT NULL,
    version       TEXT NOT NULL,
    binding       TEXT NOT NULL,
    queue_mode    INTEGER NOT NULL,
    objects       TEXT NOT NULL, -- JSON array of object paths
    addr          TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

CREATE INDEX registrations_expires_at ON registrations (expires_at);

CREATE TABLE downlinks (
    device_id  TEXT NOT NULL REFERENCES devices (id),
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL, -- JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, kind)
);
