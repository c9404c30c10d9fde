-- Users, sessions, homes, activations, and the binding of devices to homes.

-- Usernames are unique whatever their case: a unique index on lower(), which
-- needs no extension (citext would have to be created in the database by a
-- role allowed to).
CREATE TABLE users (
    id            text PRIMARY KEY,
    username      text NOT NULL,
    password_hash text NOT NULL,
    created_at    bigint NOT NULL
);

CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id),
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE homes (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    owner_id   text NOT NULL REFERENCES users (id),
    created_at bigint NOT NULL
);

CREATE TABLE home_members (
    home_id text NOT NULL REFERENCES homes (id),
    user_id text NOT NULL REFERENCES users (id),
    role    text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    PRIMARY KEY (home_id, user_id)
);

CREATE INDEX home_members_user ON home_members (user_id);

ALTER TABLE devices
    ADD COLUMN owner_id  text REFERENCES users (id),
    ADD COLUMN home_id   text REFERENCES homes (id),
    ADD COLUMN time_zone text NOT NULL DEFAULT '',
    ADD COLUMN bound_at  bigint;

CREATE INDEX devices_home ON devices (home_id);

CREATE TABLE activations (
    id          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id),
    nb_id       text NOT NULL,
    device_id   text NOT NULL REFERENCES devices (id),
    home_id     text NOT NULL REFERENCES homes (id),
    time_zone   text NOT NULL,
    timeout     integer NOT NULL,
    status      text NOT NULL CHECK (status IN ('pending', 'paired', 'failed', 'stopped')),
    reason      text NOT NULL DEFAULT '',
    created_at  bigint NOT NULL,
    deadline    bigint NOT NULL,
    finished_at bigint
);

CREATE INDEX activations_pending_device ON activations (device_id) WHERE status = 'pending';
CREATE INDEX activations_pending_deadline ON activations (deadline) WHERE status = 'pending';
