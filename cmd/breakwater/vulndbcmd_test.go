package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (name to content) under a fresh directory and
// returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// osvFeed is a small folder of OSV records and one file no importer reads.
func osvFeed(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"npm/GHSA-test-0001.json": osvRecord,
		"npm/MAL-2024-0001.json": `{"id": "MAL-2024-0001", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "npm", "name": "evil-pkg"}, "versions": ["1.0.0"]}]}`,
		"pypi/PYSEC-test-1.json": `{"id": "PYSEC-test-1", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]}]}`,
		"README.txt": "not a feed\n",
	})
}

func TestVulnDBCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "new") // created by import, not by status
	feed := osvFeed(t)

	// status reads what is there; run in the wrong place it says so
	// rather than make an empty data directory.
	_, _, err := run(t, nil, "vulndb", "status", "--data", data)
	if err == nil || !strings.Contains(err.Error(), "no data directory at "+data) {
		t.Errorf("status of a data directory that is not there: %v, want it named as missing", err)
	}
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("status made the data directory: %v", err)
	}
	// In an empty one, it says the firewall is not ready.
	empty := t.TempDir()
	out, _, err := run(t, nil, "vulndb", "status", "--data", empty)
	if err != nil || !strings.Contains(out, "no vulnerability data imported") {
		t.Errorf("status before import: got %q, %v; want it to say no data is imported", out, err)
	}

	out, _, err = run(t, nil, "vulndb", "import", "--data", data, "--source", "test-osv", feed)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, want := range []string{"imported test-osv: 3 records from 4 files", "npm", "PyPI", "1 files of unknown format", "README.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"table", nil, []string{"SOURCE", "test-osv", "PyPI:1 npm:2", "ECOSYSTEM", "npm", "PyPI"}},
		{"json", []string{"--format", "json"}, []string{`"ready": true`, `"name": "test-osv"`, `"npm": 2`, `"PyPI": 1`}},
	}
	for _, tt := range tests {
		t.Run("status "+tt.name, func(t *testing.T) {
			out, _, err := run(t, nil, append([]string{"vulndb", "status", "--data", data}, tt.args...)...)
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("status output lacks %q:\n%s", want, out)
				}
			}
			if tt.name == "json" && !json.Valid([]byte(out)) {
				t.Errorf("status --format json is not JSON:\n%s", out)
			}
		})
	}
}

func TestVulnDBErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{"vulndb", "import", "/nonexistent/feed"}, "/nonexistent/feed"},
		{"no path", []string{"vulndb", "import"}, "accepts 1 arg"},
		{"bad format", []string{"vulndb", "status", "--format", "xml"}, "--format: must be table or json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, nil, append(tt.args, "--data", t.TempDir())...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestImportReevaluates checks that new data judges cached images again:
// an image allowed before its MAL- record was imported (and never served,
// as scan serves nothing) is quarantined after.
func TestImportReevaluates(t *testing.T) {
	fx := newFWFixture(t)
	fx.data = t.TempDir() // without the fixture's data
	first := writeTree(t, map[string]string{"GHSA-test-0001.json": osvRecord})
	second := writeTree(t, map[string]string{"MAL-2024-0001.json": `{"id": "MAL-2024-0001", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "npm", "name": "evil-pkg"}, "versions": ["1.0.0"]}]}`})

	steps := []struct {
		name     string
		args     []string
		withheld bool
		want     string
	}{
		{"import without the record", []string{"vulndb", "import", first}, false, "re-evaluated cached images: 0 with new violations"},
		{"allowed", []string{"scan", "evil:1"}, false, "verdict:     allow"},
		{"import the record", []string{"vulndb", "import", second}, false, "re-evaluated cached images: 1 with new violations"},
		{"quarantined", []string{"scan", "evil:1"}, true, "verdict:     quarantine (malware)"},
	}
	for _, st := range steps {
		out, err := fx.run(t, st.args...)
		if got := errors.Is(err, errWithheld); got != st.withheld || (err != nil && !got) {
			t.Fatalf("%s: got error %v, want withheld=%v\n%s", st.name, err, st.withheld, out)
		}
		if !strings.Contains(out, st.want) {
			t.Errorf("%s: output lacks %q:\n%s", st.name, st.want, out)
		}
	}
}

// TestVulnDBStatusDigestsOnly checks that a known-bad digest list alone
// does not make the firewall ready, and status says so.
func TestVulnDBStatusDigestsOnly(t *testing.T) {
	data := t.TempDir()
	list := writeTree(t, map[string]string{"bad.txt": "# known bad\nsha256:" + strings.Repeat("ab", 32) + " a test trojan\n"})
	if _, _, err := run(t, nil, "vulndb", "import", "--data", data, list); err != nil {
		t.Fatalf("import: %v", err)
	}
	out, _, err := run(t, nil, "vulndb", "status", "--data", data)
	if err != nil || !strings.Contains(out, "only known-bad file digests: the firewall is not ready") {
		t.Errorf("status: got %v\n%s\nwant it to say the firewall is not ready", err, out)
	}
}

// TestCommandsNeedTheirData: commands on what serve stored refuse a data
// directory that is not there instead of making an empty one; user add,
// like vulndb import, may make it.
func TestCommandsNeedTheirData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"quarantine", "list"}, {"quarantine", "show", "q-1"}, {"audit"},
		{"user", "list"}, {"user", "delete", "bob"}, {"token", "list"}, {"vulndb", "status"},
	} {
		_, _, err := run(t, nil, append(args, "--data", data)...)
		if err == nil || !strings.Contains(err.Error(), "no data directory at "+data) {
			t.Errorf("%v on a missing data directory: %v, want it named as missing", args, err)
		}
		if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v made the data directory: %v", args, err)
		}
	}
	if _, _, err := runIn(t, "a long enough password\n", "user", "add", "bob", "--role", "admin", "--password-stdin", "--data", data); err != nil {
		t.Errorf("user add on a new data directory: %v", err)
	}
}
