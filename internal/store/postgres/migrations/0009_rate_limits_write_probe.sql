-- Request rate limits shared by every node: one row per limited key (a
-- user or a source address, with the name of its limit), holding the
-- key's theoretical arrival time in Unix nanoseconds (GCRA, the token
-- bucket as one number). A row whose time has passed is as good as none;
-- the nodes delete those.
CREATE TABLE rate_limits (
	key TEXT PRIMARY KEY,
	tat BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);

-- The write probe of the readiness check: one row, updated by each probe.
CREATE TABLE write_probe (
	id INTEGER PRIMARY KEY,
	at BIGINT NOT NULL
);
