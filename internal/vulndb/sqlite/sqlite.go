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
	"fmt"
	"strings"
	"time"

	"breakwater/internal/sqlitedb"
	"breakwater/internal/vulndb"
)

// busyTimeout bounds the wait for another process's write lock. An import
// holds it while it reads its whole source (a minute for the largest
// feeds), so a CLI import beside a refreshing server waits rather than
// fails.
const busyTimeout = 5 * time.Minute

// Store is a vulndb.Store in one SQLite file. It is safe for concurrent
// use. Its zero value is not usable; call Open.
type Store struct {
	db    *sqlitedb.DB
	write *sql.DB // exactly one connection
	read  *sql.DB // query_only connections
}

var _ vulndb.Store = (*Store)(nil)

// Open opens or creates the database at path.
func Open(path string) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{
		What:        "vulnerability database",
		BusyTimeout: busyTimeout,
		Migrations:  migrations,
	})
	if err != nil {
		return nil, err
	}
	return &Store{db: db, write: db.Write, read: db.Read}, nil
}

// Close closes both pools.
func (s *Store) Close() error { return s.db.Close() }

// Replace begins a write transaction that clears the source; what is put
// then goes into the same transaction. The transaction holds SQLite's one
// write lock until Commit or Abort, so other writers wait for the import.
func (s *Store) Replace(ctx context.Context, name string) (vulndb.Replacement, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin replace of %s: %w", name, err)
	}
	r := &replacement{ctx: ctx, tx: tx, source: name}
	if err := r.prepare(); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("begin replace of %s: %w", name, err)
	}
	return r, nil
}

// replacement is a vulndb.Replacement in one transaction.
type replacement struct {
	ctx    context.Context
	tx     *sql.Tx
	source string
	done   bool

	insRec, insAff *sql.Stmt
}

func (r *replacement) prepare() error {
	for _, table := range []string{"records", "affected", "bad_files"} {
		if _, err := r.tx.ExecContext(r.ctx, `DELETE FROM `+table+` WHERE source = ?`, r.source); err != nil {
			return fmt.Errorf("clear %s: %w", table, err)
		}
	}
	var err error
	r.insRec, err = r.tx.PrepareContext(r.ctx, `
INSERT INTO records (source, id, data) VALUES (?, ?, ?)
ON CONFLICT (source, id) DO NOTHING`)
	if err != nil {
		return err
	}
	r.insAff, err = r.tx.PrepareContext(r.ctx, `
INSERT INTO affected (source, id, ecosystem, name) VALUES (?, ?, ?, ?)`)
	return err
}

// Put inserts rec, or merges it into the record of its ID put before.
func (r *replacement) Put(rec vulndb.Record) error {
	if err := r.put(rec); err != nil {
		return fmt.Errorf("store %s of %s: %w", rec.ID, r.source, err)
	}
	return nil
}

func (r *replacement) put(rec vulndb.Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	res, err := r.insRec.ExecContext(r.ctx, r.source, rec.ID, string(data))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		if err := r.merge(rec); err != nil {
			return err
		}
	}

	// The package index; a merged record's earlier entries are indexed
	// already, and a repeated row only costs the query's DISTINCT.
	seen := map[[2]string]bool{}
	for _, a := range rec.Affected {
		key := [2]string{a.Ecosystem, vulndb.NormalName(a.Ecosystem, a.Name)}
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, err := r.insAff.ExecContext(r.ctx, r.source, rec.ID, key[0], key[1]); err != nil {
			return err
		}
	}
	return nil
}

// merge folds rec into the stored record of its ID.
func (r *replacement) merge(rec vulndb.Record) error {
	var data string
	err := r.tx.QueryRowContext(r.ctx, `SELECT data FROM records WHERE source = ? AND id = ?`, r.source, rec.ID).Scan(&data)
	if err != nil {
		return err
	}
	var old vulndb.Record
	if err := json.Unmarshal([]byte(data), &old); err != nil {
		return err
	}
	old.Merge(rec)
	merged, err := json.Marshal(old)
	if err != nil {
		return err
	}
	_, err = r.tx.ExecContext(r.ctx, `UPDATE records SET data = ? WHERE source = ? AND id = ?`, string(merged), r.source, rec.ID)
	return err
}

// PutBadFile inserts a known-bad digest.
func (r *replacement) PutBadFile(f vulndb.BadFile) error {
	_, err := r.tx.ExecContext(r.ctx, `
INSERT INTO bad_files (source, digest, reason) VALUES (?, ?, ?)`, r.source, f.Digest, f.Reason)
	if err != nil {
		return fmt.Errorf("store bad file of %s: %w", r.source, err)
	}
	return nil
}

// Commit records src and commits.
func (r *replacement) Commit(src vulndb.Source) error {
	counts, err := json.Marshal(src.Counts)
	if err != nil {
		return fmt.Errorf("encode counts of %s: %w", r.source, err)
	}
	_, err = r.tx.ExecContext(r.ctx, `
INSERT INTO sources (name, imported_at, modified, records, counts, unknown) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
	imported_at = excluded.imported_at, modified = excluded.modified,
	records = excluded.records, counts = excluded.counts, unknown = excluded.unknown`,
		r.source, nanos(src.ImportedAt), nanos(src.Modified), src.Records, string(counts), src.Unknown)
	if err != nil {
		r.Abort()
		return fmt.Errorf("record source %s: %w", r.source, err)
	}
	r.done = true
	if err := r.tx.Commit(); err != nil {
		return fmt.Errorf("commit replace of %s: %w", r.source, err)
	}
	return nil
}

// Abort rolls back, unless already committed.
func (r *replacement) Abort() error {
	if r.done {
		return nil
	}
	r.done = true
	if err := r.tx.Rollback(); err != nil {
		return fmt.Errorf("abort replace of %s: %w", r.source, err)
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
	rows, err := s.read.QueryContext(ctx, `SELECT name, imported_at, modified, records, counts, unknown FROM sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	defer rows.Close()
	var out []vulndb.Source
	for rows.Next() {
		var src vulndb.Source
		var at, modified int64
		var counts string
		if err := rows.Scan(&src.Name, &at, &modified, &src.Records, &counts, &src.Unknown); err != nil {
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
