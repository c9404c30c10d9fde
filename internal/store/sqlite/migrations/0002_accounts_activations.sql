-- Users, sessions, homes, activations, and the binding of devices to homes.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE homes (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE home_members (
    home_id TEXT NOT NULL REFERENCES homes (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role    TEXT NOT NULL,
    PRIMARY KEY (home_id, user_id)
);

CREATE INDEX home_members_user ON home_members (user_id);

ALTER TABLE devices ADD COLUMN owner_id TEXT REFERENCES users (id);
ALTER TABLE devices ADD COLUMN home_id TEXT REFERENCES homes (id);
ALTER TABLE devices ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN bound_at INTEGER;

CREATE INDEX devices_home ON devices (home_id);

CREATE TABLE activations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    nb_id       TEXT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    home_id     TEXT NOT NULL REFERENCES homes (id),
    time_zone   TEXT NOT NULL,
    timeout     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    deadline    INTEGER NOT NULL,
    finished_at INTEGER
);

CREATE INDEX activations_pending_device ON activations (device_id) WHERE status = 'pending';
CREATE INDEX activations_pending_deadline ON activations (deadline) WHERE status = 'pending';
