-- The account lifecycle, device sharing and transfers: what a session keeps
-- of its client and its last use, shares of a device with other users, and
-- offers of a device to a new owner. A share or a transfer is for one bind
-- of the device (its owner and bound_at): it ends when the device leaves
-- that bind. Times are Unix nanoseconds (UTC).

ALTER TABLE sessions ADD COLUMN last_used_at bigint NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN user_agent text NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN addr text NOT NULL DEFAULT '';

CREATE TABLE device_shares (
    device_id  text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access     text NOT NULL CHECK (access IN ('read', 'control')),
    owner_id   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bound_at   bigint NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (device_id, user_id)
);

CREATE INDEX device_shares_user ON device_shares (user_id);

CREATE TABLE device_transfers (
    id          text PRIMARY KEY,
    device_id   text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    from_user   text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bound_at    bigint NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled', 'expired', 'void')),
    home_id     text NOT NULL DEFAULT '', -- the recipient's home, once accepted
    created_at  bigint NOT NULL,
    deadline    bigint NOT NULL,
    finished_at bigint NOT NULL DEFAULT 0
);

-- One pending transfer per device.
CREATE UNIQUE INDEX device_transfers_pending ON device_transfers (device_id) WHERE status = 'pending';
CREATE INDEX device_transfers_from ON device_transfers (from_user);
CREATE INDEX device_transfers_to ON device_transfers (to_user);
CREATE INDEX device_transfers_deadline ON device_transfers (deadline) WHERE status = 'pending';
CREATE INDEX devices_owner ON devices (owner_id);
CREATE INDEX activations_user ON activations (user_id);
CREATE INDEX activations_home ON activations (home_id);
