package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"breakwater/internal/vulndb"
	"breakwater/internal/vulndb/sqlite"
	"breakwater/internal/vulndb/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vulndb.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "vulndb.db"))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return s
	})
}

func TestOpenRefusesParameters(t *testing.T) {
	for _, p := range []string{"", "x.db?mode=memory", "file:x.db", "x#y"} {
		if s, err := sqlite.Open(p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

// TestSchemaVersion reopens a database at its version and refuses one
// written by a newer binary.
func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vulndb.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = sqlite.Open(path); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(path); err == nil {
		s.Close()
		t.Errorf("Open of a version 99 database succeeded, want an error")
	}
}
