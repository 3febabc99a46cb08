package vulndb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
)

// TestFindingScores checks where each finding's score comes from: its own
// vectors, the best of its aliases' records, or nowhere (unscored, with
// the source's word for severity).
func TestFindingScores(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "osv/go", "osv/npm", "osv/pypi", "osv/pypi-pysec", "debian-security-tracker/vuln-list-debian", "nvd")
	tests := []struct {
		name string
		c    inventory.Component
		id   string
		want want
	}{
		{"own v3.1 and v4.0 vectors, highest wins", comp("npm", "express", "4.19.2"), "GHSA-qw6h-vgh9-j6wx",
			want{Fixed: "4.20.0", Scored: true, Score: 5.0, Severity: "medium"}},
		{"no vector of its own, from its GHSA alias", comp("PyPI", "pyyaml", "5.3"), "PYSEC-2021-142",
			want{Fixed: "5.4", Scored: true, Score: 9.8, Severity: "critical"}},
		{"own vector beats its alias", comp("PyPI", "urllib3", "2.0.5"), "PYSEC-2023-192",
			want{Fixed: "2.0.6", Scored: true, Score: 8.1, Severity: "high"}},
		{"only a text label", comp("npm", "axios", "1.5.0"), "GHSA-wf5p-g6vw-rhxx",
			want{Fixed: "1.6.0", Scored: false, Severity: "medium"}},
		{"nothing at all", comp("Go", "golang.org/x/net", "v0.16.0"), "GO-2023-2102",
			want{Fixed: "0.17.0", Scored: false}},
		{"highest of NVD's primary and secondary", deb("zlib1g", "zlib", "1:1.2.13.dfsg-1"), "CVE-2023-45853",
			want{Status: "open", Scored: true, Score: 9.8, Severity: "critical"}},
		{"NVD v4.0 only", deb("libc6", "glibc", "2.36-9+deb12u10"), "CVE-2025-8058",
			want{Status: "fixed", Fixed: "2.36-9+deb12u13", Scored: true, Score: 5.9, Severity: "medium"}},
		{"NVD without metrics, urgency unassigned", deb("libc6", "glibc", "2.36-9+deb12u10"), "CVE-2026-0915",
			want{Status: "open", Scored: false}},
		{"NVD v2 only, Debian urgency", deb("libc6", "glibc", "2.36-9+deb12u10"), "CVE-2010-4756",
			want{Status: "unimportant", Scored: false, Severity: "unimportant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := match(t, db, &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{tt.c}})
			f, ok := findings[tt.c.Name+" "+tt.id]
			if !ok {
				t.Fatalf("no %s among %v", tt.id, keys(findings))
			}
			if diff := cmp.Diff(got(f), tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if f.Scored != (f.Vector != "") {
				t.Errorf("scored %v with vector %q: a score must name its vector", f.Scored, f.Vector)
			}
		})
	}
}

// TestRecords shows a CVE's records from each source that has it.
func TestRecords(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/vuln-list-debian", "nvd")
	recs, err := db.Records(t.Context(), "CVE-2023-4911")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want the tracker's and NVD's", len(recs))
	}
	var affected, scored bool
	for _, r := range recs {
		affected = affected || len(r.Affected) > 0
		scored = scored || len(r.Severity) > 0
	}
	if !affected || !scored {
		t.Errorf("records = %+v, want one with packages and one with scores", recs)
	}
	if fs, err := db.Match(t.Context(), nil); err != nil || fs != nil {
		t.Errorf("Match(nil) = %v, %v; want nothing", fs, err)
	}
}
