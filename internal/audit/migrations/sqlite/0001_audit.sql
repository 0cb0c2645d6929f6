-- Hash-chained audit log (§ 76 BDSG). Entries are appended with contiguous
-- sequence numbers; hash = SHA-256(prev_hash || canonical entry encoding).
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,
	at_us     INTEGER NOT NULL,
	action    TEXT NOT NULL,
	actor     TEXT NOT NULL,
	device    TEXT NOT NULL,
	org       TEXT NOT NULL,
	purpose   TEXT NOT NULL,
	criteria  TEXT NOT NULL,
	result    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_us);
CREATE INDEX audit_log_actor_at ON audit_log (actor, at_us);
CREATE INDEX audit_log_action_at ON audit_log (action, at_us);

-- One row: the chain's head (detects a truncated tail) and the retention
-- anchor (the last deleted entry, so that the remaining chain still verifies).
CREATE TABLE audit_state (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	head_seq    INTEGER NOT NULL,
	head_hash   TEXT NOT NULL,
	head_at_us  INTEGER NOT NULL,
	anchor_seq  INTEGER NOT NULL,
	anchor_hash TEXT NOT NULL
);
INSERT INTO audit_state (id, head_seq, head_hash, head_at_us, anchor_seq, anchor_hash) VALUES
	(1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
	 0, '0000000000000000000000000000000000000000000000000000000000000000');
