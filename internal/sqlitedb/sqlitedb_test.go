package sqlitedb

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// rawDB opens an empty database the way Open opens its write pool.
func rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// schema returns the database's version and its tables other than
// schema_version, by name.
func schema(t *testing.T, db *sql.DB) (int, []string) {
	t.Helper()
	// A failed first run leaves not even schema_version behind.
	var version int
	var exists bool
	if err := db.QueryRow(`SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'schema_version'`).Scan(&exists); err != nil {
		t.Fatalf("look for schema_version: %v", err)
	}
	if exists {
		if err := db.QueryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
			t.Fatalf("read version: %v", err)
		}
	}
	tables, err := column(db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name != 'schema_version' ORDER BY name`))
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	return version, tables
}

func TestMigrate(t *testing.T) {
	const (
		one = `CREATE TABLE one (x INTEGER)`
		two = `CREATE TABLE two (x INTEGER); CREATE INDEX two_x ON two (x)`
		bad = `CREATE TABLE three (x INTEGER); NOT SQL`
	)
	tests := []struct {
		name        string
		runs        [][]string // successive migrate calls; all but the last must succeed
		wantErr     bool
		wantVersion int
		wantTables  []string
	}{
		{"fresh database", [][]string{{one, two}}, false, 2, []string{"one", "two"}},
		// one would fail if run twice, as the table exists.
		{"only new migrations run", [][]string{{one}, {one, two}}, false, 2, []string{"one", "two"}},
		{"nothing new", [][]string{{one, two}, {one, two}}, false, 2, []string{"one", "two"}},
		{"failure rolls all back", [][]string{{one, two, bad}}, true, 0, nil},
		{"failure keeps earlier runs", [][]string{{one}, {one, two, bad}}, true, 1, []string{"one"}},
		{"newer database refused", [][]string{{one, two}, {one}}, true, 2, []string{"one", "two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := rawDB(t)
			var err error
			for i, ms := range tt.runs {
				err = Migrate(t.Context(), db, ms)
				if i < len(tt.runs)-1 && err != nil {
					t.Fatalf("migrate run %d: %v", i, err)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("migrate = %v; want error %t", err, tt.wantErr)
			}
			version, tables := schema(t, db)
			if version != tt.wantVersion || !slices.Equal(tables, tt.wantTables) {
				t.Errorf("schema = version %d, tables %q; want %d, %q", version, tables, tt.wantVersion, tt.wantTables)
			}
		})
	}
}

// column collects a single-column result of text.
func column(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// TestOpenPrivate: the database and its WAL files are the owner's alone,
// whatever the umask, and a file others could read is made private.
func TestOpenPrivate(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	exposed := filepath.Join(dir, "old.db")
	if err := os.WriteFile(exposed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "new.db"), exposed} {
		db, err := Open(path, Options{Migrations: []string{"CREATE TABLE t (v TEXT)"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write.Exec("INSERT INTO t VALUES ('x')"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s has mode %v, want no access for group or others", p, perm)
			}
		}
		db.Close()
	}
}
