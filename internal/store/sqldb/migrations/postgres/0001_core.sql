-- Core schema (PostgreSQL). Ids are caller-generated TEXT, times are unix
-- milliseconds, payloads are opaque BYTEA.

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

-- Service email domains, lower-case; a domain belongs to one org only.
CREATE TABLE org_domains (
	domain TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE
);
CREATE INDEX org_domains_org ON org_domains (org_id);

CREATE TABLE units (
	id        TEXT PRIMARY KEY,
	org_id    TEXT NOT NULL REFERENCES orgs (id),
	parent_id TEXT REFERENCES units (id),
	name      TEXT NOT NULL
);
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
	created_at   BIGINT NOT NULL,
	disabled_at  BIGINT
);
CREATE INDEX users_org_email ON users (org_id, email);
CREATE INDEX users_unit ON users (unit_id);

-- At most one pending code per email.
CREATE TABLE login_codes (
	email      TEXT PRIMARY KEY,
	code_hash  BYTEA NOT NULL,
	attempts   BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);

CREATE TABLE devices (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id),
	name         TEXT NOT NULL,
	signing_key  BYTEA NOT NULL,
	token_hash   BYTEA NOT NULL UNIQUE,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	revoked_at   BIGINT
);
CREATE INDEX devices_user ON devices (user_id);

CREATE TABLE conversations (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL REFERENCES orgs (id),
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_seq   BIGINT NOT NULL DEFAULT 0,
	last_at    BIGINT NOT NULL,  -- time of the newest envelope (or creation): activity order
	direct_key TEXT UNIQUE        -- "userA userB" (sorted) for direct chats: one per pair
);

CREATE TABLE members (
	conv_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL REFERENCES users (id),
	role      TEXT NOT NULL,
	from_seq  BIGINT NOT NULL,
	joined_at BIGINT NOT NULL,
	PRIMARY KEY (conv_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE device_cursors (
	device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	conv_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	acked_seq BIGINT NOT NULL,
	PRIMARY KEY (device_id, conv_id)
);
CREATE INDEX device_cursors_conv ON device_cursors (conv_id);

CREATE TABLE envelopes (
	conv_id       TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	seq           BIGINT NOT NULL,
	sender_id     TEXT NOT NULL REFERENCES users (id),
	sender_device TEXT NOT NULL REFERENCES devices (id),
	client_id     TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	payload       BYTEA NOT NULL,
	PRIMARY KEY (conv_id, seq),
	UNIQUE (sender_device, client_id)
);
CREATE INDEX envelopes_created ON envelopes (created_at);
