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

// FuzzRange evaluates ranges with arbitrary versions in every ordering a
// record can name: a feed's odd version must not panic a match.
func FuzzRange(f *testing.F) {
	f.Add("1.2.3", "0", "1.2.4", "")
	f.Add("1:2.36-9+deb12u3", "2.36-9", "2.36-9+deb12u4", "")
	f.Add("1.36.1-r29", "0", "", "1.36.1-r31")
	f.Add("2.0rc1", "1.0.dev0", "2.0.post1", "")
	f.Add("1:3.0.7-25.el9", "0", "1:3.0.7-27.el9", "")
	f.Add("2.14.1-SNAPSHOT", "2.0-beta", "2.15.0", "")
	ecosystems := []string{"Debian:12", "Alpine:v3.20", "Red Hat", "Go", "npm", "PyPI", "Maven"}
	f.Fuzz(func(t *testing.T, version, introduced, fixed, lastAffected string) {
		for _, eco := range ecosystems {
			v, err := parseVersion(eco, version)
			if err != nil {
				continue
			}
			a := Affected{
				Ecosystem: eco,
				Ranges: []Range{{Type: "ECOSYSTEM", Events: []Event{
					{Introduced: introduced}, {Fixed: fixed}, {LastAffected: lastAffected},
				}}},
				Versions: []string{introduced, fixed},
			}
			a.affects(eco, v)
		}
	})
}
