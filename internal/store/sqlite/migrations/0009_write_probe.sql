-- The write probe of the readiness check: each probe inserts a row with a
-- blob of several pages, which needs pages of its own, and deletes it in the same
-- transaction, so that the probe fails exactly when a write that grows the
-- database would (a full disk, or PRAGMA max_page_count reached).
CREATE TABLE write_probe (
	id  INTEGER PRIMARY KEY,
	pad BLOB NOT NULL
);
