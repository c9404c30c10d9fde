-- Factory batches: the devices of one product imported together from a CSV,
-- and the serial numbers of devices (NULL when none was given).

ALTER TABLE devices ADD COLUMN serial text;

CREATE TABLE batches (
    id         text PRIMARY KEY, -- derived from the product and the rows
    product_id text NOT NULL REFERENCES products (id),
    created_at bigint NOT NULL,
    devices    integer NOT NULL,
    created    integer NOT NULL,
    existing   integer NOT NULL
);

CREATE INDEX batches_created_at ON batches (created_at);

-- A device can be in several batches: a later file may repeat its IMEI.
CREATE TABLE batch_devices (
    batch_id  text NOT NULL REFERENCES batches (id),
    position  integer NOT NULL, -- the row's place in the file, from 0
    device_id text NOT NULL REFERENCES devices (id),
    PRIMARY KEY (batch_id, position)
);

CREATE INDEX batch_devices_device ON batch_devices (device_id);
