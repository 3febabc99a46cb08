package sqlite_test

import (
	"path/filepath"
	"testing"

	"breakwater/internal/store/sqlite"
	"breakwater/internal/store/storetest"
)

func TestAccessSuite(t *testing.T) {
	storetest.TestAccess(t, func(t *testing.T) func() storetest.AccessMeta {
		path := filepath.Join(t.TempDir(), "meta.db")
		return func() storetest.AccessMeta {
			m, err := sqlite.Open(path)
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			return m
		}
	})
}
