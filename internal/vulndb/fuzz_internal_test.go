package vulndb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// discard is a Replacement that keeps nothing, for parsing alone.
type discard struct{}

func (discard) Put(Record) error         { return nil }
func (discard) PutBadFile(BadFile) error { return nil }
func (discard) Commit(Source) error      { return nil }
func (discard) Abort() error             { return nil }

// FuzzAdd feeds arbitrary bytes to format recognition and the parsers:
// whatever a feed holds, an import fails or succeeds, never panics.
func FuzzAdd(f *testing.F) {
	for _, p := range []string{
		"testdata/osv/npm/GHSA-qw6h-vgh9-j6wx.json",
		"testdata/osv/pypi-pysec/requests/PYSEC-2023-74.yaml",
		"testdata/alpine-secdb/vuln-list/3.20/main/zlib.json",
		"testdata/debian-security-tracker/vuln-list-debian/tracker/DSA/DSA-5514-1.json",
		"testdata/debian-security-tracker/tracker-json-sample/gardenlinux-glvd-data-ingestion/debian-security-tracker.json",
		"testdata/nvd/fkie-cad-nvd-json-data-feeds/CVE-2023/CVE-2023-458xx/CVE-2023-45853.json",
	} {
		data, err := os.ReadFile(filepath.FromSlash(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &batch{ctx: context.Background(), w: discard{}}
		_ = b.add("fuzz", data)
		_ = b.finish()
	})
}
