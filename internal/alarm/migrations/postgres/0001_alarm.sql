-- Alarms (postgres): per-unit policies, the alarm state machine with its
-- persisted deadline, responses and timeline. No content: the alarm's text
-- and positions travel only inside MLS ciphertexts.

CREATE TABLE alarm_policies (
	unit_id            TEXT PRIMARY KEY,
	org_id             TEXT NOT NULL,
	alarm_conv_id      TEXT NOT NULL,
	dispatch_conv_id   TEXT NOT NULL,
	escalation_conv_id TEXT NOT NULL,  -- '' for none
	min_coming         BIGINT NOT NULL,
	window_s           BIGINT NOT NULL,
	update_s           BIGINT NOT NULL,
	updated_by         TEXT NOT NULL,
	updated_at         BIGINT NOT NULL
);

CREATE TABLE alarms (
	id                 TEXT PRIMARY KEY,
	org_id             TEXT NOT NULL,
	client_id          TEXT NOT NULL,
	raised_by          TEXT NOT NULL,
	raised_device      TEXT NOT NULL,
	unit_id            TEXT NOT NULL,
	state              TEXT NOT NULL,
	escalation_conv_id TEXT NOT NULL,
	min_coming         BIGINT NOT NULL,
	window_s           BIGINT NOT NULL,
	raised_at          BIGINT NOT NULL,
	deadline           BIGINT NOT NULL,
	escalated_at       BIGINT,
	ended_at           BIGINT,
	ended_by           TEXT NOT NULL DEFAULT '',
	coming             BIGINT NOT NULL DEFAULT 0,
	events             BIGINT NOT NULL DEFAULT 0,  -- timeline length (next event number - 1)
	-- The escalation ciphertext, held until the deadline passes without
	-- enough responders; cleared once posted or when the alarm ends.
	held_client_id     TEXT NOT NULL DEFAULT '',
	held_epoch         BIGINT NOT NULL DEFAULT 0,
	held_payload       BYTEA,
	UNIQUE (raised_device, client_id)
);
-- One active alarm per device: a flood of presses finds the first one.
CREATE UNIQUE INDEX alarms_active_device ON alarms (raised_device)
	WHERE state IN ('raised', 'acknowledged', 'escalated');
CREATE INDEX alarms_due ON alarms (state, deadline);
CREATE INDEX alarms_org ON alarms (org_id, raised_at);
CREATE INDEX alarms_device_time ON alarms (raised_device, raised_at);

-- The conversations an alarm was posted to; the escalation conversation
-- joins once the alarm escalates. Members of these see the alarm.
CREATE TABLE alarm_convs (
	alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
	conv_id  TEXT NOT NULL,
	role     TEXT NOT NULL,       -- alarm, escalation
	seq      BIGINT NOT NULL DEFAULT 0,  -- the posted envelope (0: not posted)
	PRIMARY KEY (alarm_id, conv_id)
);
CREATE INDEX alarm_convs_conv ON alarm_convs (conv_id);

CREATE TABLE alarm_responses (
	alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
	user_id  TEXT NOT NULL,
	response TEXT NOT NULL,
	eta_s    BIGINT NOT NULL,
	at       BIGINT NOT NULL,
	PRIMARY KEY (alarm_id, user_id)
);

CREATE TABLE alarm_events (
	alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
	n        BIGINT NOT NULL,
	at       BIGINT NOT NULL,
	event    TEXT NOT NULL,
	by_user  TEXT NOT NULL,
	detail   TEXT NOT NULL,
	PRIMARY KEY (alarm_id, n)
);
