// Package sqlite is the vulndb.Store of a single node: one SQLite file on
// modernc.org/sqlite, opened the way internal/store/sqlite opens the
// metadata database (WAL, one writer connection, IMMEDIATE transactions, a
// busy timeout for a CLI import running beside serve).
//
// Records are stored whole as JSON, keyed by (source, id); a side table
// indexes each record's affected packages by (ecosystem, normalised name)
// so matching reads only the records of the packages it asks about.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"breakwater/internal/vulndb"
)

// busyTimeout bounds the wait for another process's write lock. A full
// re-import holds it for seconds, so this is longer than the metadata
// database's.
const busyTimeout = 60 * time.Second

// Store is a vulndb.Store in one SQLite file. It is safe for concurrent
// use. Its zero value is not usable; call Open.
type Store struct {
	write *sql.DB // exactly one connection
	read  *sql.DB // query_only connections
}

var _ vulndb.Store = (*Store)(nil)

// Open opens or creates the database at path.
func Open(path string) (*Store, error) {
	// The driver cuts its parameters off at the first "?".
	if strings.ContainsAny(path, "?#") || path == "" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open vulnerability database %q: path must be a plain file name without ? or #", path)
	}
	params := fmt.Sprintf("?_busy_timeout=%d&_txlock=immediate", busyTimeout.Milliseconds())
	write, err := sql.Open("sqlite", path+params+"&_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(context.Background(), write); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate vulnerability database %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", path+params+"&_query_only=1")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	return &Store{write: write, read: read}, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if err := errors.Join(s.read.Close(), s.write.Close()); err != nil {
		return fmt.Errorf("close vulnerability database: %w", err)
	}
	return nil
}

// Replace swaps src's records and bad files in one transaction.
func (s *Store) Replace(
	ctx context.Context,
	src vulndb.Source,
	recs []vulndb.Record,
	files []vulndb.BadFile,
) error {
	counts, err := json.Marshal(src.Counts)
	if err != nil {
		return fmt.Errorf("encode counts of %s: %w", src.Name, err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin replace of %s: %w", src.Name, err)
	}
	defer tx.Rollback()

	for _, table := range []string{"records", "affected", "bad_files"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE source = ?`, src.Name); err != nil {
			return fmt.Errorf("clear %s of %s: %w", table, src.Name, err)
		}
	}
	if err := insertRecords(ctx, tx, src.Name, recs); err != nil {
		return fmt.Errorf("store records of %s: %w", src.Name, err)
	}
	for _, f := range files {
		_, err := tx.ExecContext(ctx, `
INSERT INTO bad_files (source, digest, reason) VALUES (?, ?, ?)`, src.Name, f.Digest, f.Reason)
		if err != nil {
			return fmt.Errorf("store bad files of %s: %w", src.Name, err)
		}
	}
	_, err = tx.ExecContext(ctx, `
INSERT INTO sources (name, imported_at, modified, counts, unknown) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
	imported_at = excluded.imported_at, modified = excluded.modified,
	counts = excluded.counts, unknown = excluded.unknown`,
		src.Name, nanos(src.ImportedAt), nanos(src.Modified), string(counts), src.Unknown)
	if err != nil {
		return fmt.Errorf("record source %s: %w", src.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit replace of %s: %w", src.Name, err)
	}
	return nil
}

// insertRecords writes recs and their package index rows.
func insertRecords(ctx context.Context, tx *sql.Tx, source string, recs []vulndb.Record) error {
	insRec, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO records (source, id, data) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insRec.Close()
	insAff, err := tx.PrepareContext(ctx, `
INSERT INTO affected (source, id, ecosystem, name) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insAff.Close()

	for _, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode %s: %w", r.ID, err)
		}
		if _, err := insRec.ExecContext(ctx, source, r.ID, string(data)); err != nil {
			return err
		}
		seen := map[[2]string]bool{}
		for _, a := range r.Affected {
			key := [2]string{a.Ecosystem, vulndb.NormalName(a.Ecosystem, a.Name)}
			if seen[key] {
				continue
			}
			seen[key] = true
			if _, err := insAff.ExecContext(ctx, source, r.ID, key[0], key[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Affecting returns the records indexed under one of ecosystems and name.
func (s *Store) Affecting(ctx context.Context, ecosystems []string, name string) ([]vulndb.Record, error) {
	if len(ecosystems) == 0 {
		return nil, nil
	}
	args := []any{name}
	for _, e := range ecosystems {
		args = append(args, e)
	}
	recs, err := s.records(ctx, `
SELECT DISTINCT r.source, r.id, r.data FROM affected a JOIN records r ON r.source = a.source AND r.id = a.id
WHERE a.name = ? AND a.ecosystem IN (`+placeholders(len(ecosystems))+`)
ORDER BY r.id, r.source`, args...)
	if err != nil {
		return nil, fmt.Errorf("read records of %s: %w", name, err)
	}
	return recs, nil
}

// ByID returns the records whose id is one of ids.
func (s *Store) ByID(ctx context.Context, ids []string) ([]vulndb.Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	recs, err := s.records(ctx, `
SELECT source, id, data FROM records
WHERE id IN (`+placeholders(len(ids))+`)
ORDER BY id, source`, args...)
	if err != nil {
		return nil, fmt.Errorf("read records by id: %w", err)
	}
	return recs, nil
}

func (s *Store) records(ctx context.Context, query string, args ...any) ([]vulndb.Record, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var recs []vulndb.Record
	for rows.Next() {
		var source, id, data string
		if err := rows.Scan(&source, &id, &data); err != nil {
			return nil, err
		}
		var r vulndb.Record
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return nil, fmt.Errorf("decode %s from %s: %w", id, source, err)
		}
		recs = append(recs, r)
	}
	return recs, rows.Err()
}

// BadFiles returns the known-bad entries among digests.
func (s *Store) BadFiles(ctx context.Context, digests []string) ([]vulndb.BadFile, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	args := make([]any, len(digests))
	for i, d := range digests {
		args[i] = d
	}
	rows, err := s.read.QueryContext(ctx, `
SELECT DISTINCT digest, reason FROM bad_files
WHERE digest IN (`+placeholders(len(digests))+`)
ORDER BY digest, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("read bad files: %w", err)
	}
	defer rows.Close()
	var out []vulndb.BadFile
	for rows.Next() {
		var f vulndb.BadFile
		if err := rows.Scan(&f.Digest, &f.Reason); err != nil {
			return nil, fmt.Errorf("read bad files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Sources lists the imported sources by name.
func (s *Store) Sources(ctx context.Context) ([]vulndb.Source, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT name, imported_at, modified, counts, unknown FROM sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	var out []vulndb.Source
	for rows.Next() {
		var src vulndb.Source
		var at, modified int64
		var counts string
		if err := rows.Scan(&src.Name, &at, &modified, &counts, &src.Unknown); err != nil {
			return nil, fmt.Errorf("list sources: %w", err)
		}
		src.ImportedAt, src.Modified = fromNanos(at), fromNanos(modified)
		if err := json.Unmarshal([]byte(counts), &src.Counts); err != nil {
			return nil, fmt.Errorf("decode counts of %s: %w", src.Name, err)
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// nanos encodes t for storage, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos decodes what nanos stored, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
