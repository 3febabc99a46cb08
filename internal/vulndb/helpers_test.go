package vulndb_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
	"breakwater/internal/vulndb/sqlite"
)

// openDB opens an empty database in a temporary directory.
func openDB(t *testing.T) *vulndb.DB {
	t.Helper()
	return openDBAt(t, filepath.Join(t.TempDir(), "vulndb.db"))
}

// openDBAt opens the database at path; it is closed when the test ends.
func openDBAt(t *testing.T, path string) *vulndb.DB {
	t.Helper()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	db := vulndb.New(st, nil)
	t.Cleanup(func() { db.Close() })
	return db
}

// importAll imports each testdata path (relative to testdata) as a source.
func importAll(t *testing.T, db *vulndb.DB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := vulndb.Import(context.Background(), db, filepath.Join("testdata", p)); err != nil {
			t.Fatalf("import %s: %v", p, err)
		}
	}
}

// match runs Match and indexes the findings by component name and id.
func match(t *testing.T, db *vulndb.DB, inv *inventory.Inventory) map[string]inventory.Finding {
	t.Helper()
	fs, err := db.Match(context.Background(), inv)
	if err != nil {
		t.Fatalf("match: %v", err)
	}
	out := map[string]inventory.Finding{}
	for _, f := range fs {
		key := f.Component.Name + " " + f.ID
		if _, dup := out[key]; dup {
			t.Errorf("finding %s reported twice", key)
		}
		out[key] = f
	}
	return out
}

// keys returns the sorted keys of m.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
