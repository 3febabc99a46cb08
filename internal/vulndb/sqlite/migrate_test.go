package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"breakwater/internal/sqlitedb"
)

// TestRecordsBackfilled opens a database written before sources kept
// their number of records: the migration counts what each one holds.
func TestRecordsBackfilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vulndb.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Migrate(ctx, old, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO sources (name, imported_at, modified, counts, unknown) VALUES ('osv', 1, 0, '{"npm":2,"PyPI":1}', 0)`,
		`INSERT INTO sources (name, imported_at, modified, counts, unknown) VALUES ('empty', 1, 0, '{}', 0)`,
		`INSERT INTO records (source, id, data) VALUES ('osv', 'A', '{}'), ('osv', 'B', '{}')`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srcs, err := s.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, src := range srcs {
		got[src.Name] = src.Records
	}
	if len(got) != 2 || got["osv"] != 2 || got["empty"] != 0 {
		t.Errorf("records after the migration = %v, want osv 2 (not the counts' 3) and empty 0", got)
	}
}
