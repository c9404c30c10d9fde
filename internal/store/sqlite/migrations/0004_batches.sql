-- Factory batches: the devices of one product imported together from a CSV,
-- and the serial numbers of devices (NULL when none was given).

ALTER TABLE devices ADD COLUMN serial TEXT;

CREATE TABLE batches (
    id         TEXT PRIMARY KEY, -- derived from the product and the rows
    product_id TEXT NOT NULL REFERENCES products (id),
    created_at INTEGER NOT NULL,
    devices    INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    existing   INTEGER NOT NULL
);

CREATE INDEX batches_created_at ON batches (created_at);

-- A device can be in several batches: a later file may repeat its IMEI.
CREATE TABLE batch_devices (
    batch_id  TEXT NOT NULL REFERENCES batches (id),
    position  INTEGER NOT NULL, -- the row's place in the file, from 0
    device_id TEXT NOT NULL REFERENCES devices (id),
    PRIMARY KEY (batch_id, position)
);

CREATE INDEX batch_devices_device ON batch_devices (device_id);
