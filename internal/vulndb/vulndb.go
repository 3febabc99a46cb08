// Package vulndb is breakwater's local vulnerability and malware database:
// it imports public feeds, normalises them into one OSV-shaped Record model,
// and matches an inventory.Inventory against them to produce findings with
// vendor statuses, fixed versions and CVSS scores.
//
// Import recognises each file by its content, not its name: OSV records
// (JSON or YAML, alone or in osv.dev's all.zip), the Debian security
// tracker (its JSON export, or vuln-list's one file per CVE, DSA and DLA),
// Alpine secdb JSON, NVD CVE API 2.0 records (one cve object or a feed)
// and known-bad file digest lists, in any mix. A file, a folder tree or an
// archive (zip, tar, gzip) is one source; importing the same source again
// replaces its records in one transaction.
//
// A known-bad digest list is UTF-8 text with one entry a line,
// "sha256:<64 lower-case hex> <reason>", and blank or "#" lines between;
// a file whose first entry line has that shape is read as one, and any
// malformed later line fails its import (digests.go has the details).
//
// Storage sits behind the Store interface; the sqlite subpackage is the
// single-node backend and storetest the suite every backend passes. A
// command wires them as
//
//	st, err := sqlite.Open(filepath.Join(dataDir, "vulndb.db"))
//	db := vulndb.New(st, logger)
//	report, err := vulndb.Import(ctx, db, pathOrURL)
//	findings, err := db.Match(ctx, inv)
//
// and a server runs a Refresher over PublicFeeds (or mirror URLs) and asks
// Ready before trusting an empty result. A DB is safe for concurrent use
// if its Store is.
//
// Files: record.go holds the model; osv.go, debian.go, alpine.go, nvd.go
// and digests.go one input format each, detect.go tells them apart and
// import.go walks files, zips and folders; match.go, version.go and
// severity.go turn records into findings; refresh.go keeps feeds fresh.
package vulndb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// DB matches inventories against the records of a Store. Its zero value
// is not usable; call New.
type DB struct {
	store Store
	log   *slog.Logger
}

// New returns a DB over store. A nil logger discards.
func New(store Store, log *slog.Logger) *DB {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &DB{store: store, log: log}
}

// Status lists the imported sources, by name.
func (db *DB) Status(ctx context.Context) ([]Source, error) {
	srcs, err := db.store.Sources(ctx)
	if err != nil {
		return nil, fmt.Errorf("list vulnerability sources: %w", err)
	}
	return srcs, nil
}

// Records returns every stored record with the given id, one per source
// that has it (a CVE can come from the Debian tracker and from NVD), for
// showing the evidence behind a finding.
func (db *DB) Records(ctx context.Context, id string) ([]Record, error) {
	recs, err := db.store.ByID(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("read record %s: %w", id, err)
	}
	return recs, nil
}

// Close closes the store.
func (db *DB) Close() error {
	return db.store.Close()
}
