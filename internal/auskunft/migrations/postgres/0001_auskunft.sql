-- Auskunft (PostgreSQL): key columns use COLLATE "C" so that they compare
-- bytewise (prefix ranges, index use) whatever the database's collation.
-- Auskunft: police data held by the authority. Every record keeps the
-- normalised keys its lookups use, each behind an index, so that exact
-- lookups are index hits and fuzzy person search narrows by key first.
CREATE TABLE ak_person (
	id          TEXT COLLATE "C" PRIMARY KEY,
	surname     TEXT NOT NULL,
	given_names TEXT NOT NULL,
	birth_name  TEXT NOT NULL,
	dob         TEXT COLLATE "C" NOT NULL,
	birth_place TEXT NOT NULL,
	nationality TEXT NOT NULL,
	sex         TEXT NOT NULL,
	aliases     TEXT NOT NULL, -- JSON array of strings
	warnings    TEXT NOT NULL, -- comma-separated codes
	updated_at  BIGINT NOT NULL
);

-- One row per surname variant of a person (surname, birth name, aliases)
-- with everything a fuzzy search scores on: phon = Kölner Phonetik of the
-- surname, fold = transliterated surname (Müller = MUELLER = MULLER),
-- gphon = Kölner Phonetik of the first given name, gfold = transliterated
-- given names, dob. The lookup indexes carry all of it, so that candidates
-- are scored from index pages alone and only the best few persons are read.
CREATE TABLE ak_name (
	person_id TEXT COLLATE "C" NOT NULL,
	phon      TEXT COLLATE "C" NOT NULL,
	fold      TEXT COLLATE "C" NOT NULL,
	gphon     TEXT COLLATE "C" NOT NULL,
	gfold     TEXT COLLATE "C" NOT NULL,
	dob       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ak_name_person ON ak_name (person_id);
CREATE INDEX ak_name_dob ON ak_name (dob, phon, fold, gfold, person_id);
CREATE INDEX ak_name_gphon ON ak_name (gphon, fold, phon, dob, gfold, person_id);
CREATE INDEX ak_name_phon ON ak_name (phon, gphon, fold, dob, gfold, person_id);
CREATE INDEX ak_name_fold ON ak_name (fold, phon, gphon, dob, gfold, person_id);

CREATE TABLE ak_vehicle (
	id         TEXT COLLATE "C" PRIMARY KEY,
	plate      TEXT NOT NULL,
	plate_key  TEXT COLLATE "C" NOT NULL,
	vin        TEXT COLLATE "C" NOT NULL,
	make       TEXT NOT NULL,
	model      TEXT NOT NULL,
	colour     TEXT NOT NULL,
	holder     TEXT COLLATE "C" NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX ak_vehicle_plate ON ak_vehicle (plate_key);
CREATE INDEX ak_vehicle_vin ON ak_vehicle (vin);
CREATE INDEX ak_vehicle_holder ON ak_vehicle (holder);

CREATE TABLE ak_document (
	id            TEXT COLLATE "C" PRIMARY KEY,
	type          TEXT NOT NULL,
	number        TEXT NOT NULL,
	number_key    TEXT COLLATE "C" NOT NULL,
	issuing_state TEXT NOT NULL,
	expiry        TEXT NOT NULL,
	holder        TEXT COLLATE "C" NOT NULL,
	updated_at    BIGINT NOT NULL
);
CREATE INDEX ak_document_number ON ak_document (number_key);
CREATE INDEX ak_document_holder ON ak_document (holder);

CREATE TABLE ak_alert (
	id           TEXT COLLATE "C" PRIMARY KEY,
	subject_kind TEXT COLLATE "C" NOT NULL,
	subject      TEXT COLLATE "C" NOT NULL,
	category     TEXT NOT NULL,
	action       TEXT NOT NULL,
	authority    TEXT NOT NULL,
	valid_from   TEXT NOT NULL,
	valid_until  TEXT NOT NULL,
	updated_at   BIGINT NOT NULL
);
CREATE INDEX ak_alert_subject ON ak_alert (subject_kind, subject);
