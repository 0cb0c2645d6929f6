-- Priority messages and acknowledgement requests (postgres). The server knows
-- that a message is urgent and who confirmed it, never what it says.

ALTER TABLE envelopes ADD COLUMN priority TEXT NOT NULL DEFAULT '';
ALTER TABLE envelopes ADD COLUMN ack_required BIGINT NOT NULL DEFAULT 0;

-- One row per ack-required envelope: the counts are kept here so that a
-- 10,000-member channel's summary is one row read, not a COUNT.
CREATE TABLE ack_requests (
	conv_id        TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq            BIGINT NOT NULL,
	sender_id      TEXT NOT NULL,
	priority       TEXT NOT NULL,
	recipients     BIGINT NOT NULL,  -- members (other than the sender) when it was posted
	delivered      BIGINT NOT NULL DEFAULT 0,
	read_count     BIGINT NOT NULL DEFAULT 0,
	acknowledged   BIGINT NOT NULL DEFAULT 0,
	remind_every_s BIGINT NOT NULL,
	next_remind_at BIGINT,           -- NULL: no more reminders (all acknowledged, closed or expired)
	created_at     BIGINT NOT NULL,
	closed_at      BIGINT,
	PRIMARY KEY (conv_id, seq)
);
CREATE INDEX ack_requests_due ON ack_requests (next_remind_at) WHERE next_remind_at IS NOT NULL;

-- Per-user receipts, written only when a user's state rises.
-- level: 1 delivered, 2 read, 3 acknowledged.
CREATE TABLE receipts (
	conv_id         TEXT NOT NULL,
	seq             BIGINT NOT NULL,
	user_id         TEXT NOT NULL,
	level           BIGINT NOT NULL,
	delivered_at    BIGINT NOT NULL,
	read_at         BIGINT,
	acknowledged_at BIGINT,
	PRIMARY KEY (conv_id, seq, user_id),
	FOREIGN KEY (conv_id, seq) REFERENCES ack_requests (conv_id, seq) ON DELETE CASCADE
);
