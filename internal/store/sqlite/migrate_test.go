package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// rawDB opens an empty database the way Open opens its write pool.
func rawDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "meta.db")+"?_txlock=immediate")
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
				err = migrate(t.Context(), db, ms)
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

// TestConnections checks the settings Open promises: WAL and foreign keys
// for writing, and readers that cannot write.
func TestConnections(t *testing.T) {
	m, err := Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	tests := []struct {
		name  string
		db    *sql.DB
		query string
		want  string
	}{
		{"journal mode", m.write, `PRAGMA journal_mode`, "wal"},
		{"foreign keys", m.write, `PRAGMA foreign_keys`, "1"},
		{"synchronous", m.write, `PRAGMA synchronous`, "1"},
		{"readers query only", m.read, `PRAGMA query_only`, "1"},
		{"schema version", m.read, `SELECT MAX(version) FROM schema_version`, strconv.Itoa(len(migrations))},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRow(tt.query).Scan(&got); err != nil || got != tt.want {
			t.Errorf("%s: %s = %q, %v; want %q", tt.name, tt.query, got, err, tt.want)
		}
	}
	if _, err := m.read.Exec(`INSERT INTO repositories (name) VALUES ('x')`); err == nil {
		t.Errorf("insert through the read pool succeeded; want query_only to refuse it")
	}
	if _, err := m.write.Exec(`INSERT INTO tags (repo_id, name, digest, media_type, size, checked_at) VALUES (999, 't', 'd', '', 0, 0)`); err == nil {
		t.Errorf("tag of a missing repository inserted; want a foreign key error")
	}
}
