package sqlite_test

import (
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
