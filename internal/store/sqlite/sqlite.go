// Package sqlite is the store.Meta of a single breakwater node: one SQLite
// database file on modernc.org/sqlite (pure Go, no cgo), in WAL mode so
// readers never wait for the writer.
//
// Writes go through a pool of exactly one connection. SQLite admits one
// writer at a time anyway; with one connection, writers of this process
// queue in database/sql instead of meeting SQLITE_BUSY, and a transaction
// never has to upgrade a read lock. Transactions still begin IMMEDIATE with
// a busy timeout, for another process (a CLI command on the same data
// directory) writing at the same moment. Reads use their own pool of
// query-only connections.
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
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"breakwater/internal/store"
)

// busyTimeout is how long a connection waits for another process's lock
// before failing with SQLITE_BUSY. Writes are short, so seconds of waiting
// means something is wrong.
const busyTimeout = 10 * time.Second

// readConns bounds the read pool. Readers are cheap in WAL mode, but each
// connection keeps its own page cache.
const readConns = 8

// Meta is a store.Meta in one SQLite file. It is safe for concurrent use,
// also by several processes on the same file. Its zero value is not usable;
// call Open.
type Meta struct {
	write *sql.DB // exactly one connection, see the package doc
	read  *sql.DB // query_only connections
}

var _ store.Meta = (*Meta)(nil)

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(path string) (*Meta, error) {
	// The driver cuts its parameters off at the first "?", so a path with
	// one would open a different file.
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open metadata database %q: path must be a plain file name without ? or #", path)
	}
	params := fmt.Sprintf("?_busy_timeout=%d&_txlock=immediate", busyTimeout.Milliseconds())

	// synchronous=NORMAL is the usual choice with WAL: a commit is not
	// synced until the next checkpoint, so a power loss can drop the latest
	// transactions but never corrupts the file. Losing a moment of cache
	// metadata costs refetches, not correctness.
	write, err := sql.Open("sqlite", path+params+"&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1")
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(context.Background(), write, migrations); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate metadata database %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", path+params+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	read.SetMaxOpenConns(readConns)
	return &Meta{write: write, read: read}, nil
}

// Close closes both pools.
func (m *Meta) Close() error {
	if err := errors.Join(m.read.Close(), m.write.Close()); err != nil {
		return fmt.Errorf("close metadata database: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction and commits if it returns nil.
func (m *Meta) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := m.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
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
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

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
