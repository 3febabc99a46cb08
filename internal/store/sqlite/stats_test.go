package sqlite_test

import (
	"path/filepath"
	"testing"

	"breakwater/internal/store/sqlite"
	"breakwater/internal/store/storetest"
)

func TestStatsSuite(t *testing.T) {
	storetest.TestStats(t, func(t *testing.T) func() storetest.StatsMeta {
		path := filepath.Join(t.TempDir(), "meta.db")
		return func() storetest.StatsMeta {
			m, err := sqlite.Open(path)
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			return m
		}
	})
}
