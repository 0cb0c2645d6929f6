-- MLS delivery service (PostgreSQL): group epochs, envelope kinds, the
-- KeyPackage directory and per-device messages (Welcomes).

ALTER TABLE conversations ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE envelopes ADD COLUMN kind TEXT NOT NULL DEFAULT 'app';
ALTER TABLE envelopes ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

-- Each KeyPackage is handed out once, then deleted.
CREATE TABLE key_packages (
	id         TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	data       BYTEA NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX key_packages_device ON key_packages (device_id, created_at);

CREATE TABLE device_messages (
	id            TEXT PRIMARY KEY,  -- time-ordered
	device_id     TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	conv_id       TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	sender_device TEXT NOT NULL,
	kind          TEXT NOT NULL,
	payload       BYTEA NOT NULL,
	created_at    BIGINT NOT NULL
);
CREATE INDEX device_messages_device ON device_messages (device_id, id);
