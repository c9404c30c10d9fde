-- The device maker's actions on one device. Times are Unix nanoseconds
-- (UTC).

-- Devices it has blocked: their Registers are refused and nobody may bind
-- them until they are unblocked.

CREATE TABLE device_blocks (
    device_id  text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    blocked_at bigint NOT NULL,
    reason     text NOT NULL DEFAULT ''
);

-- New DTLS keys waiting to replace a device's key: both are the device's
-- until it completes a handshake with the new one or the deadline passes.
CREATE TABLE device_psk_rotations (
    device_id  text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    sealed_psk bytea NOT NULL,
    started_at bigint NOT NULL,
    deadline   bigint NOT NULL
);
