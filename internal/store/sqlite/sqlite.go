// Package sqlite is the store.Meta of a single breakwater node: one SQLite
// database file on modernc.org/sqlite (pure Go, no cgo), in WAL mode so
// readers never wait for the writer.
//
// Connections are set up by package sqlitedb: one writer, a query-only
// read pool, and transactions that begin IMMEDIATE with a busy timeout for
// another process (a CLI command on the same data directory).
//
// Times are stored as INTEGER nanoseconds since the Unix epoch in UTC, zero
// for the zero time; they come back in UTC. The schema evolves through the
// ordered migrations in migrate.go.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"breakwater/internal/sqlitedb"
	"breakwater/internal/store"
)

// Meta is a store.Meta in one SQLite file. It is safe for concurrent use,
// also by several processes on the same file. Its zero value is not usable;
// call Open.
type Meta struct {
	db    *sqlitedb.DB
	write *sql.DB // exactly one connection, see package sqlitedb
	read  *sql.DB // query_only connections
}

var _ store.Meta = (*Meta)(nil)

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(path string) (*Meta, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{
		What:        "metadata database",
		ForeignKeys: true,
		Migrations:  migrations,
	})
	if err != nil {
		return nil, err
	}
	return &Meta{db: db, write: db.Write, read: db.Read}, nil
}

// Close closes both pools.
func (m *Meta) Close() error { return m.db.Close() }

// inTx runs fn in a write transaction and commits if it returns nil.
func (m *Meta) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return m.db.InTx(ctx, fn)
}

// repoID returns the id of repository name, creating the row if needed.
func repoID(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO repositories (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = ?`, name).Scan(&id)
	return id, err
}

// Repositories lists repository names in byte order after last.
func (m *Meta) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	names, err := column(m.read.QueryContext(ctx, `SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?`, last, limit(n)))
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	return names, nil
}

// column collects a single-column result of text.
func column(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// limit turns store's "n <= 0 means all" into SQLite's, where a negative
// LIMIT means none.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// nanos encodes t for storage.
func nanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	// UnixNano is undefined outside these; a filter bound such as
	// until=9999-12-31 must still mean "everything before".
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// The times an int64 of nanoseconds since 1970 holds: 1677 to 2262.
var minNanos, maxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

// fromNanos decodes what nanos stored.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
