package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadLimits refuses files that expand past maxFileBytes, whatever
// their container claims.
func TestReadLimits(t *testing.T) {
	defer func(n int64) { maxFileBytes = n }(maxFileBytes)
	maxFileBytes = 1 << 10
	big := bytes.Repeat([]byte{' '}, 1<<20)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()

	var zbuf bytes.Buffer
	w := zip.NewWriter(&zbuf)
	f, _ := w.Create("huge.json")
	f.Write(big)
	w.Close()

	tests := []struct {
		name string
		data []byte
	}{
		{"plain", big},
		{"gzip bomb", gz.Bytes()},
		{"zip entry", zbuf.Bytes()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "feed")
			if err := os.WriteFile(p, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			b := &batch{ctx: context.Background()}
			err := b.readPath(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), "larger than") {
				t.Errorf("read = %v, want a size error", err)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		data string
		want format
	}{
		{"osv", `{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z","affected":[]}`, formatOSV},
		{"osv yaml", "id: PYSEC-1\nmodified: 2024-01-01\n", formatOSVYAML},
		{"nvd bare", `{"id":"CVE-2024-1","sourceIdentifier":"x","metrics":{}}`, formatNVD},
		{"nvd wrapped", `{"cve":{"id":"CVE-2024-1"}}`, formatNVD},
		{"nvd feed", `{"format":"NVD_CVE","vulnerabilities":[]}`, formatNVD},
		{"tracker export", `{"glibc":{"CVE-2024-1":{"releases":{"bookworm":{"status":"open"}}}}}`, formatTrackerExport},
		{"tracker export with a package named cve", `{"cve":{"CVE-2024-1":{"releases":{"bookworm":{"status":"open"}}}}}`, formatTrackerExport},
		{"tracker list", `{"Header":{"ID":"CVE-1"},"Annotations":[]}`, formatTrackerList},
		{"secdb", `{"distroversion":"v3.20","packages":[]}`, formatSecdb},
		{"secdb per package", `{"name":"zlib","secfixes":{},"distroversion":"v3.20"}`, formatSecdb},
		{"digests", "# list\nsha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae x\n", formatDigests},
		{"other json", `{"name":"x"}`, formatUnknown},
		{"object of objects without releases", `{"a":{"b":{"c":1}}}`, formatUnknown},
		{"empty object", `{}`, formatUnknown},
		{"nvd key of the wrong shape", `{"vulnerabilities":{"x":1}}`, formatUnknown},
		{"broken json", `{"id":"GHSA-1",`, formatUnknown},
		{"markdown", "# Title\n\nid: not a record\n", formatUnknown},
		{"binary", "\x00\x01\x02", formatUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detect([]byte(tt.data)); got != tt.want {
				t.Errorf("detect = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestSourceName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://example.org/feeds/all.zip", "https://example.org/feeds/all.zip"},
		{"https://user:secret@example.org/npm/@scope/all.zip?token=secret#frag", "https://example.org/npm/@scope/all.zip"},
		{"http://mirror:8080/a@b/c.json", "http://mirror:8080/a@b/c.json"},
		{"https://exa mple.org/%zz", "unparsable URL"},
	}
	for _, tt := range tests {
		if got := sourceName(tt.in); got != tt.want {
			t.Errorf("sourceName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := sourceName("testdata"); !filepath.IsAbs(got) {
		t.Errorf("sourceName(testdata) = %q, want an absolute path", got)
	}
}

// TestSecdbFirstFix takes the lowest fix in apk order when secdb lists one
// id under two versions.
func TestSecdbFirstFix(t *testing.T) {
	recs := secdbRecords("Alpine:v3.20", secdbPackage{Name: "foo", Secfixes: map[string][]string{
		"1.10-r0": {"CVE-1"},
		"1.9-r0":  {"CVE-1"},
	}})
	if len(recs) != 1 || recs[0].Affected[0].Ranges[0].Events[1].Fixed != "1.9-r0" {
		t.Errorf("records = %+v, want CVE-1 fixed in 1.9-r0", recs)
	}
}

func TestHiddenPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"a/b.json", false},
		{".hidden.json", false}, // a file, as a folder walk reads it too
		{"repo/.git/HEAD", true},
		{".github/workflows/x.yaml", true},
		{"./osv/x.json", false},
		{"a/../.git/x", true},
	}
	for _, tt := range tests {
		if got := hiddenPath(tt.path); got != tt.want {
			t.Errorf("hiddenPath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
