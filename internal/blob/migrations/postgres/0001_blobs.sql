-- Encrypted attachment blobs. The bytes live in files named by id; a row
-- says which conversation may read them and who uploaded them. Times are
-- Unix milliseconds; completed_at stays NULL until the last byte arrived.
CREATE TABLE blobs (
	id           TEXT PRIMARY KEY,
	conv_id      TEXT NOT NULL,
	uploader     TEXT NOT NULL,
	device       TEXT NOT NULL,
	size         BIGINT NOT NULL,
	created_at   BIGINT NOT NULL,
	completed_at BIGINT
);
CREATE INDEX blobs_uploader_created ON blobs (uploader, created_at);
CREATE INDEX blobs_created ON blobs (created_at);
