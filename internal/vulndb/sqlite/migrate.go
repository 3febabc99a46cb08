package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema's history: migration i brings the database to
// version i+1, kept in SQLite's user_version. Append only; never edit one
// that has shipped. Each runs in one transaction with the version bump.
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
}

// migrate applies the migrations db has not seen. The transaction begins
// IMMEDIATE (see Open), so two processes opening a new file at once apply
// each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary's %d", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("apply migration %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is an integer we made.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	return tx.Commit()
}
