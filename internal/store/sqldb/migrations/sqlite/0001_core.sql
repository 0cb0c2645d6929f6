-- Core schema (SQLite). Ids are caller-generated TEXT, times are unix
-- milliseconds, payloads are opaque BLOBs. STRICT catches type slips.

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- Service email domains, lower-case; a domain belongs to one org only.
CREATE TABLE org_domains (
	domain TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX org_domains_org ON org_domains (org_id);

CREATE TABLE units (
	id        TEXT PRIMARY KEY,
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	parent_id TEXT REFERENCES units (id),
	name      TEXT NOT NULL
) STRICT;
CREATE INDEX units_org ON units (org_id, name);
CREATE INDEX units_parent ON units (parent_id);

CREATE TABLE users (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs (id),
	unit_id      TEXT REFERENCES units (id),
	email        TEXT NOT NULL UNIQUE,  -- lower-case
	display_name TEXT NOT NULL,
	search_name  TEXT NOT NULL,         -- display_name lower-cased in Go (Unicode-aware)
	roles        TEXT NOT NULL,         -- comma-separated
	created_at   INTEGER NOT NULL,
	disabled_at  INTEGER
) STRICT;
CREATE INDEX users_org_email ON users (org_id, email);
CREATE INDEX users_unit ON users (unit_id);

-- At most one pending code per email.
CREATE TABLE login_codes (
	email      TEXT PRIMARY KEY,
	code_hash  BLOB NOT NULL,
	attempts   INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	name         TEXT NOT NULL,
	signing_key  BLOB NOT NULL,
	token_hash   BLOB NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	revoked_at   INTEGER
) STRICT;
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE conversations (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL DEFAULT 0,
	last_at    INTEGER NOT NULL,  -- time of the newest envelope (or creation): activity order
	direct_key TEXT UNIQUE        -- "userA userB" (sorted) for direct chats: one per pair
) STRICT;

CREATE TABLE members (
	conv_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users (id),
	role      TEXT NOT NULL,
	from_seq  INTEGER NOT NULL,
	joined_at INTEGER NOT NULL,
	PRIMARY KEY (conv_id, user_id)
) STRICT;
CREATE INDEX members_user ON members (user_id);

CREATE TABLE device_cursors (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	conv_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	acked_seq INTEGER NOT NULL,
	PRIMARY KEY (device_id, conv_id)
) STRICT;
CREATE INDEX device_cursors_conv ON device_cursors (conv_id);

CREATE TABLE envelopes (
	conv_id       TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq           INTEGER NOT NULL,
	sender_id     TEXT NOT NULL REFERENCES users (id),
	sender_device TEXT NOT NULL REFERENCES devices (id),
	client_id     TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	payload       BLOB NOT NULL,
	PRIMARY KEY (conv_id, seq),
	UNIQUE (sender_device, client_id)
) STRICT;
CREATE INDEX envelopes_created ON envelopes (created_at);
