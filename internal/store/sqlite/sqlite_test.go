package sqlite_test

import (
	"path/filepath"
	"testing"

	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.TestMeta(t, func(t *testing.T) func() store.Meta {
		path := filepath.Join(t.TempDir(), "meta.db")
		return func() store.Meta {
			m, err := sqlite.Open(path)
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			return m
		}
	})
}

func TestOpenRefusesURIs(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{
		"",
		filepath.Join(dir, "meta.db?mode=ro"),
		filepath.Join(dir, "meta#1.db"),
		"file:" + filepath.Join(dir, "meta.db"),
	} {
		if m, err := sqlite.Open(path); err == nil {
			m.Close()
			t.Errorf("Open(%q) = nil error; want one", path)
		}
	}
}

func TestFirewallSuite(t *testing.T) {
	storetest.TestFirewall(t, func(t *testing.T) func() storetest.FirewallMeta {
		path := filepath.Join(t.TempDir(), "meta.db")
		return func() storetest.FirewallMeta {
			m, err := sqlite.Open(path)
			if err != nil {
				t.Fatalf("Open(%s): %v", path, err)
			}
			return m
		}
	})
}
