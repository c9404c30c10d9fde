-- Devices the device maker has blocked: their Registers are refused and
-- nobody may bind them until they are unblocked. Times are Unix
-- nanoseconds (UTC).

CREATE TABLE device_blocks (
    device_id  TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    blocked_at INTEGER NOT NULL,
    reason     TEXT NOT NULL DEFAULT ''
);
