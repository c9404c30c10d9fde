-- Products, provisioned devices, their LwM2M registrations and queued downlinks.
--
-- Times are Unix nanoseconds (UTC) in bigint, as in the SQLite store:
-- timestamptz keeps only microseconds, and a store must give back the
-- time.Time it was given to the nanosecond. Zero times are NULL.
--
-- IDs that are listed in order or paged through (products, devices) are
-- COLLATE "C": byte order, the same as SQLite's, whatever the database's
-- locale.

CREATE TABLE products (
    id            text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    auto_register boolean NOT NULL DEFAULT false,
    created_at    bigint NOT NULL
);

INSERT INTO products (id, name, auto_register, created_at)
VALUES ('default', 'Generic NB-IoT device', false, (extract(epoch FROM clock_timestamp()) * 1000000000)::bigint);

CREATE TABLE devices (
    id                  text COLLATE "C" PRIMARY KEY,
    product_id          text NOT NULL REFERENCES products (id),
    imei                text NOT NULL UNIQUE,
    nb_id               text NOT NULL UNIQUE,
    name                text NOT NULL,
    created_at          bigint NOT NULL,
    first_registered_at bigint
);

CREATE INDEX devices_product ON devices (product_id, id);

CREATE TABLE registrations (
    id            text PRIMARY KEY,
    device_id     text NOT NULL UNIQUE REFERENCES devices (id),
    endpoint      text NOT NULL,
    lifetime      integer NOT NULL,
    version       text NOT NULL,
    binding       text NOT NULL,
    queue_mode    boolean NOT NULL,
    objects       text[] NOT NULL, -- object paths such as /3/0
    addr          text NOT NULL,
    registered_at bigint NOT NULL,
    last_seen     bigint NOT NULL,
    expires_at    bigint NOT NULL
);

CREATE INDEX registrations_expires_at ON registrations (expires_at);

CREATE TABLE downlinks (
    device_id  text NOT NULL REFERENCES devices (id),
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (device_id, kind)
);
