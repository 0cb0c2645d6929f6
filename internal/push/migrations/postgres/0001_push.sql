-- Web Push (RFC 8030/8291/8292). One VAPID key pair for the whole cluster,
-- created by the first node that starts, so that every node signs with the
-- key the browsers subscribed with.
CREATE TABLE push_vapid (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	private_key TEXT NOT NULL,
	public_key  TEXT NOT NULL,
	created_at  BIGINT NOT NULL
);

-- Push subscriptions of devices. An endpoint belongs to one device; a device
-- holds a few (one per browser profile / after endpoint rotation).
CREATE TABLE push_subscriptions (
	endpoint   TEXT PRIMARY KEY,
	device_id  TEXT NOT NULL,
	p256dh     TEXT NOT NULL,
	auth       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id, updated_at);
