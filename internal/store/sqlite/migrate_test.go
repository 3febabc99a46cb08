package sqlite

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"testing"
)

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
