package sqlite

// migrations is the schema's history: migration i brings the database to
// version i+1 (see sqlitedb.Migrate). Append only; never edit one that has
// shipped.
var migrations = []string{
	// 1: records by source with a package index, bad file digests, and the
	// bookkeeping of each source.
	`
CREATE TABLE sources (
	name        TEXT PRIMARY KEY,
	imported_at INTEGER NOT NULL, -- nanoseconds since the epoch, UTC
	modified    INTEGER NOT NULL, -- the feed's Last-Modified, 0 if none
	counts      TEXT NOT NULL,    -- JSON object: ecosystem -> records
	unknown     INTEGER NOT NULL
);

-- data is the vulndb.Record as JSON.
CREATE TABLE records (
	source TEXT NOT NULL,
	id     TEXT NOT NULL,
	data   TEXT NOT NULL,
	PRIMARY KEY (source, id)
);
CREATE INDEX records_by_id ON records (id);

-- affected has a row per (record, ecosystem, normalised package name).
CREATE TABLE affected (
	source    TEXT NOT NULL,
	id        TEXT NOT NULL,
	ecosystem TEXT NOT NULL,
	name      TEXT NOT NULL
);
CREATE INDEX affected_by_package ON affected (ecosystem, name);
CREATE INDEX affected_by_source ON affected (source);

CREATE TABLE bad_files (
	source TEXT NOT NULL,
	digest TEXT NOT NULL,
	reason TEXT NOT NULL
);
CREATE INDEX bad_files_by_digest ON bad_files (digest);
CREATE INDEX bad_files_by_source ON bad_files (source);
`,
	// 2: each source's number of distinct records, which the per-ecosystem
	// counts overstate for records spanning ecosystems.
	`
ALTER TABLE sources ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
UPDATE sources SET records = (SELECT count(*) FROM records r WHERE r.source = sources.name);
`,
}
