-- The device maker's actions on one device. Times are Unix nanoseconds
-- (UTC).

-- Devices it has blocked: their Registers are refused and nobody may bind
-- them until they are unblocked.

CREATE TABLE device_blocks (
    device_id  TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    blocked_at INTEGER NOT NULL,
    reason     TEXT NOT NULL DEFAULT ''
);

-- New DTLS keys waiting to replace a device's key: both are the device's
-- until it completes a handshake with the new one or the deadline passes.
CREATE TABLE device_psk_rotations (
    device_id  TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    sealed_psk BLOB NOT NULL,
    started_at INTEGER NOT NULL,
    deadline   INTEGER NOT NULL
);
