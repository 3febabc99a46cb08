package vulndb_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
)

func apk(name, origin, version string) inventory.Component {
	return inventory.Component{Ecosystem: "Alpine", Name: name, SourceName: origin, Version: version, Path: "lib/apk/db/installed"}
}

// TestAlpine matches apk packages by origin against secdb for the image's
// release (3.20 from 3.20.3), with secdb's "0" meaning never affected.
func TestAlpine(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "alpine-secdb", "nvd")
	v320 := &inventory.Distro{ID: "alpine", VersionID: "3.20.3"}
	tests := []struct {
		name   string
		distro *inventory.Distro
		c      inventory.Component
		want   map[string]string // id -> fixed version
	}{
		{"busybox by origin", v320, apk("ssl_client", "busybox", "1.36.1-r29"),
			map[string]string{"CVE-2024-58251": "1.36.1-r31", "CVE-2025-46394": "1.36.1-r31"}},
		{"musl", v320, apk("musl", "musl", "1.2.5-r1"),
			map[string]string{"CVE-2026-6042": "1.2.5-r2", "CVE-2026-40200": "1.2.5-r3"}},
		{"zlib: 0 means not affected", v320, apk("zlib", "zlib", "1.3.1-r1"), map[string]string{}},
		{"zlib before a fix", v320, apk("zlib", "zlib", "1.2.12-r1"),
			map[string]string{"CVE-2022-37434": "1.2.12-r2"}},
		{"another release", &inventory.Distro{ID: "alpine", VersionID: "3.19.1"}, apk("zlib", "zlib", "1.2.12-r1"), map[string]string{}},
		{"release in the ecosystem", nil, inventory.Component{Ecosystem: "Alpine:v3.20", Name: "musl", Version: "1.2.5-r2"},
			map[string]string{"CVE-2026-40200": "1.2.5-r3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := match(t, db, &inventory.Inventory{Distro: tt.distro, Components: []inventory.Component{tt.c}})
			got := map[string]string{}
			for _, f := range findings {
				got[f.ID] = f.FixedVersion
				if f.Status != "fixed" {
					t.Errorf("%s: status %q, want fixed", f.ID, f.Status)
				}
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}

	// secdb has no scores; this one comes from the NVD record of the CVE.
	findings := match(t, db, &inventory.Inventory{Distro: v320, Components: []inventory.Component{apk("zlib", "zlib", "1.2.12-r1")}})
	if f := findings["zlib CVE-2022-37434"]; !f.Scored || f.Score != 9.8 {
		t.Errorf("CVE-2022-37434 scored %v %.1f, want 9.8 from NVD", f.Scored, f.Score)
	}
}
