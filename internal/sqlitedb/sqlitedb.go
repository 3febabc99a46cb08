// Package sqlitedb opens the SQLite files breakwater keeps (metadata and the
// vulnerability database) in one way: modernc.org/sqlite (pure Go), WAL mode
// so readers never wait for the writer, and ordered schema migrations.
//
// Writes go through a pool of exactly one connection. SQLite admits one
// writer at a time anyway; with one connection, writers of this process
// queue in database/sql instead of meeting SQLITE_BUSY, and a transaction
// never has to upgrade a read lock. Transactions still begin IMMEDIATE with
// a busy timeout, for another process (a CLI command on the same data
// directory) writing at the same moment. Reads use their own pool of
// query-only connections.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DefaultReadConns bounds the read pool. Readers are cheap in WAL mode, but
// each connection keeps its own page cache.
const DefaultReadConns = 8

// Options configure Open. Migrations is required; the rest have defaults.
type Options struct {
	// What names the database in errors ("metadata database").
	What string
	// BusyTimeout is how long a connection waits for another process's
	// write lock before failing with SQLITE_BUSY (default 10s).
	BusyTimeout time.Duration
	// ForeignKeys turns on foreign key enforcement.
	ForeignKeys bool
	// ReadConns bounds the read pool (default DefaultReadConns).
	ReadConns int
	// Migrations is the schema's history: migration i brings the database
	// to version i+1. Append only; never edit one that has shipped, since
	// databases already past it will not run it again.
	Migrations []string
}

// DB is an open database: Write has exactly one connection, Read is
// query-only. Safe for concurrent use, also by several processes on the
// same file.
type DB struct {
	Write *sql.DB
	Read  *sql.DB
	what  string
}

// Open opens or creates the database at path and brings its schema up to
// date.
func Open(path string, opts Options) (*DB, error) {
	what := opts.What
	if what == "" {
		what = "database"
	}
	// The driver cuts its parameters off at the first "?", so a path with
	// one would open a different file.
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open %s %q: path must be a plain file name without ? or #", what, path)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	params := fmt.Sprintf("?_busy_timeout=%d&_txlock=immediate", busy.Milliseconds())
	if err := private(path); err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}

	// synchronous=NORMAL is the usual choice with WAL: a commit is not
	// synced until the next checkpoint, so a power loss can drop the latest
	// transactions but never corrupts the file.
	wparams := params + "&_journal_mode=WAL&_synchronous=NORMAL"
	if opts.ForeignKeys {
		wparams += "&_foreign_keys=1"
	}
	write, err := sql.Open("sqlite", path+wparams)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	write.SetMaxOpenConns(1)
	if err := Migrate(context.Background(), write, opts.Migrations); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate %s %s: %w", what, path, err)
	}

	read, err := sql.Open("sqlite", path+params+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	conns := opts.ReadConns
	if conns <= 0 {
		conns = DefaultReadConns
	}
	read.SetMaxOpenConns(conns)
	return &DB{Write: write, Read: read, what: what}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if err := errors.Join(db.Read.Close(), db.Write.Close()); err != nil {
		return fmt.Errorf("close %s: %w", db.what, err)
	}
	return nil
}

// InTx runs fn in a write transaction and commits if it returns nil.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// Migrate applies the migrations db has not seen, in order, in one
// transaction, so a failure leaves the schema as it was. Versions are
// recorded in a schema_version table. The transaction begins IMMEDIATE
// (see Open), so two processes opening a new database at once apply each
// migration once.
func Migrate(ctx context.Context, db *sql.DB, migrations []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary's %d", version, len(migrations))
	}

	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("apply migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, i+1, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("record migration %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}

// private creates the database file for the owner alone, or takes read
// access from others on one that exists: it may hold password hashes and
// the key registry tokens are signed with, and SQLite would otherwise
// create it, and its -wal and -shm files after it, as the umask allows.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}
