-- The registration journal (journal.go): the number of the last journaled
-- Register applied to the tables, so that a replay after a crash applies
-- each one once.
CREATE TABLE journal_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
);

INSERT INTO journal_state (id, applied_seq) VALUES (1, 0);
