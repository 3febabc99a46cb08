package vulndb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
)

var bookworm = &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}

// deb is a binary package of Debian 12 built from source src.
func deb(bin, src, version string) inventory.Component {
	return inventory.Component{Ecosystem: "Debian:12", Name: bin, Version: version, SourceName: src, Path: "var/lib/dpkg/status"}
}

// want is the part of a finding a table checks.
type want struct {
	Status   string
	Fixed    string
	Scored   bool
	Score    float64
	Severity string
}

func got(f inventory.Finding) want {
	return want{Status: f.Status, Fixed: f.FixedVersion, Scored: f.Scored, Score: f.Score, Severity: f.Severity}
}

// TestDebianBookworm matches binary packages of a bookworm image, named by
// their source packages, against the tracker files and their DSA/DLA
// files, with NVD data for scores. The expected set follows the stored
// snapshots (see testdata/README.md), not today's tracker.
func TestDebianBookworm(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/vuln-list-debian", "nvd")
	inv := &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{
		deb("libc6", "glibc", "2.36-9+deb12u10"),
		deb("libssl3", "openssl", "3.0.17-1~deb12u2"),
		deb("zlib1g", "zlib", "1:1.2.13.dfsg-1"),
		deb("perl-base", "perl", "5.36.0-7+deb12u1"),
		deb("libsystemd0", "systemd", "252.38-1~deb12u1"),
		deb("tar", "tar", "1.34+dfsg-1.2+deb12u1"),
		deb("libcap2", "libcap2", "1:2.66-4+deb12u1"),
		deb("dpkg", "dpkg", "1.21.22"),
		deb("libpcre2-8-0", "pcre2", "10.42-1"),
		deb("coreutils", "coreutils", "9.1-1"),
	}}
	findings := match(t, db, inv)

	wantIDs := []string{
		"coreutils CVE-2016-2781", "coreutils CVE-2017-18018", "coreutils CVE-2025-5278",
		"dpkg CVE-2025-6297", "dpkg CVE-2026-2219",
		"libc6 CVE-2010-4756", "libc6 CVE-2018-20796", "libc6 CVE-2019-1010022", "libc6 CVE-2019-1010023",
		"libc6 CVE-2019-1010024", "libc6 CVE-2019-1010025", "libc6 CVE-2019-9192", "libc6 CVE-2025-15281",
		"libc6 CVE-2025-4802", "libc6 CVE-2025-8058", "libc6 CVE-2026-0861", "libc6 CVE-2026-0915", "libc6 CVE-2026-5450",
		"libcap2 CVE-2025-1390", "libcap2 CVE-2026-4878",
		"libpcre2-8-0 CVE-2026-86145",
		"libssl3 CVE-2024-13176", "libssl3 CVE-2024-5535", "libssl3 CVE-2025-27587", "libssl3 CVE-2025-9230", "libssl3 CVE-2025-9232",
		"libsystemd0 CVE-2013-4392", "libsystemd0 CVE-2023-31437", "libsystemd0 CVE-2023-31438", "libsystemd0 CVE-2023-31439",
		"libsystemd0 CVE-2023-7008", "libsystemd0 CVE-2026-29111",
		"perl-base CVE-2011-4116", "perl-base CVE-2023-31484", "perl-base CVE-2023-31486", "perl-base CVE-2024-56406", "perl-base CVE-2025-40909",
		"tar CVE-2005-2541", "tar CVE-2023-39804",
		"zlib1g CVE-2023-45853", "zlib1g CVE-2026-85091",
	}
	if diff := cmp.Diff(keys(findings), wantIDs); diff != "" {
		t.Errorf("finding ids (-got +want):\n%s", diff)
	}

	tests := []struct {
		key  string
		want want
	}{
		// A bookworm line with a point-release fix.
		{"libc6 CVE-2025-8058", want{"fixed", "2.36-9+deb12u13", true, 5.9, "medium"}},
		// The fix is only in the DSA, which names the CVE; the CVE file
		// does not name the DSA.
		{"libssl3 CVE-2025-9230", want{"fixed", "3.0.17-1~deb12u3", true, 7.5, "high"}},
		// The CVE names a DLA that names no CVE.
		{"libpcre2-8-0 CVE-2026-86145", want{"fixed", "10.42-1+deb12u1", true, 8.2, "high"}},
		// The CVE names the DSA; no NVD score is stored.
		{"perl-base CVE-2024-56406", want{"fixed", "5.36.0-7+deb12u2", false, 0, ""}},
		{"perl-base CVE-2023-31484", want{"fixed", "5.36.0-7+deb12u3", true, 8.1, "high"}},
		{"libc6 CVE-2025-4802", want{"no-dsa", "", true, 7.8, "high"}},
		{"libssl3 CVE-2024-5535", want{"no-dsa", "", true, 9.1, "critical"}}, // postponed
		{"coreutils CVE-2016-2781", want{"ignored", "", true, 6.5, "medium"}},
		// Fixed only in unstable, above bookworm's version: open, no fix.
		{"zlib1g CVE-2023-45853", want{"open", "", true, 9.8, "critical"}},
		{"perl-base CVE-2023-31486", want{"unimportant", "", true, 8.1, "high"}},
		// Unscored: NVD gives only v2, so the urgency is the severity.
		{"tar CVE-2005-2541", want{"unimportant", "", false, 0, "unimportant"}},
		// Unscored and no urgency: nothing pretends to know.
		{"libc6 CVE-2026-0915", want{"open", "", false, 0, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f, ok := findings[tt.key]
			if !ok {
				t.Fatalf("no finding %s", tt.key)
			}
			if diff := cmp.Diff(got(f), tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if f.Component.Name == "" || f.Component.SourceName == "" {
				t.Errorf("component = %+v, want the binary package with its source", f.Component)
			}
		})
	}
}

// TestDebianNoFinding covers versions the data says are safe.
func TestDebianNoFinding(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/vuln-list-debian", "nvd")
	tests := []struct {
		name string
		c    inventory.Component
		// absent lists the ids that must not be found; nil means none at all.
		absent []string
	}{
		// CVE-2024-3094 is not-affected in bookworm although unstable has
		// a fix above this version; CVE-2025-31115 is fixed by DSA at
		// exactly this version; CVE-2022-1271's unstable fix is older.
		{"not affected or fixed", deb("liblzma5", "xz-utils", "5.4.1-1"), nil},
		// Fixed by DSA-5726-1; the early <unfixed> krb5 snapshots still
		// match, which is why this case lists what must be absent.
		{"fixed by advisory", deb("libkrb5-3", "krb5", "1.20.1-2+deb12u2"), []string{"CVE-2024-37370", "CVE-2024-37371"}},
		// Matching goes by the source name: the binary name is no key.
		{"binary name alone", inventory.Component{Ecosystem: "Debian:12", Name: "libc6", Version: "2.36-9"}, nil},
		{"unknown package", deb("hello", "hello", "2.10-3"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := match(t, db, &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{tt.c}})
			if tt.absent == nil && len(got) > 0 {
				t.Errorf("findings = %v, want none", keys(got))
			}
			for _, id := range tt.absent {
				if f, ok := got[tt.c.Name+" "+id]; ok {
					t.Errorf("got %+v, want no %s", f, id)
				}
			}
			if tt.absent != nil && len(got) == 0 {
				t.Errorf("no findings at all, want the open krb5 ones: is the package matched?")
			}
		})
	}
}

// TestDebianRelease checks that release lines apply to their release only.
func TestDebianRelease(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/vuln-list-debian")
	tests := []struct {
		name    string
		distro  *inventory.Distro
		c       inventory.Component
		wantFix string
	}{
		{"bullseye takes the bullseye DSA line", &inventory.Distro{ID: "debian", VersionID: "11"},
			inventory.Component{Ecosystem: "Debian", Name: "libc6", SourceName: "glibc", Version: "2.31-13+deb11u5"}, "2.31-13+deb11u7"},
		{"bookworm takes the bookworm DSA line", &inventory.Distro{ID: "debian", Codename: "bookworm"},
			inventory.Component{Ecosystem: "Debian", Name: "libc6", SourceName: "glibc", Version: "2.36-9+deb12u1"}, "2.36-9+deb12u3"},
		{"fixed in bookworm", bookworm, deb("libc6", "glibc", "2.36-9+deb12u3"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := match(t, db, &inventory.Inventory{Distro: tt.distro, Components: []inventory.Component{tt.c}})
			f, ok := got["libc6 CVE-2023-4911"]
			if tt.wantFix == "" {
				if ok {
					t.Fatalf("got %+v, want no CVE-2023-4911", f)
				}
				return
			}
			if !ok || f.FixedVersion != tt.wantFix || f.Status != "fixed" {
				t.Errorf("CVE-2023-4911 = %+v (found %v), want fixed in %s", f, ok, tt.wantFix)
			}
		})
	}
}

// TestDebianTrackerExport reads the tracker's own JSON export.
func TestDebianTrackerExport(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/tracker-json-sample")
	tests := []struct {
		name string
		c    inventory.Component
		want map[string]want
	}{
		{"vim before the bookworm fix", deb("vim-tiny", "vim", "2:9.0.1378-2"),
			map[string]want{"vim-tiny CVE-2023-5344": {Status: "fixed", Fixed: "2:9.0.1378-2+deb12u1"}}},
		{"vim with the fix", deb("vim-tiny", "vim", "2:9.0.1378-2+deb12u2"), map[string]want{}},
		{"glibc before the security fix", deb("libc6", "glibc", "2.36-9+deb12u4"),
			map[string]want{"libc6 CVE-2024-33601": {Status: "fixed", Fixed: "2.36-9+deb12u7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings := match(t, db, &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{tt.c}})
			gotW := map[string]want{}
			for k, f := range findings {
				gotW[k] = got(f)
			}
			if diff := cmp.Diff(gotW, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// TestDistroOSVStatus gives OSV-format distro records, which carry no
// vendor status, one from their ranges. The record is shaped like
// osv.dev's DEBIAN-CVE records (none are in a public repository to copy).
func TestDistroOSVStatus(t *testing.T) {
	rec := `{"id":"DEBIAN-CVE-2023-4911","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2023-4911"],
	"affected":[{"package":{"ecosystem":"Debian:12","name":"glibc"},
	"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.36-9+deb12u3"}]}]},
	{"package":{"ecosystem":"Debian:12","name":"zlib"},
	"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`
	db := openDB(t)
	if _, err := vulndb.Import(context.Background(), db, writeFile(t, "DEBIAN-CVE-2023-4911.json", []byte(rec))); err != nil {
		t.Fatal(err)
	}
	importAll(t, db, "nvd")
	findings := match(t, db, &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{
		deb("libc6", "glibc", "2.36-9+deb12u1"),
		deb("zlib1g", "zlib", "1:1.2.13.dfsg-1"),
	}})
	wantW := map[string]want{
		"libc6 DEBIAN-CVE-2023-4911":  {Status: "fixed", Fixed: "2.36-9+deb12u3", Scored: true, Score: 7.8, Severity: "high"},
		"zlib1g DEBIAN-CVE-2023-4911": {Status: "open", Scored: true, Score: 7.8, Severity: "high"},
	}
	gotW := map[string]want{}
	for k, f := range findings {
		gotW[k] = got(f)
	}
	if diff := cmp.Diff(gotW, wantW); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestUbuntuOSV matches Ubuntu packages by source package within their
// release. The record is shaped like osv.dev's UBUNTU-CVE records.
func TestUbuntuOSV(t *testing.T) {
	rec := `{"id":"UBUNTU-CVE-2023-4911","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2023-4911"],
	"affected":[{"package":{"ecosystem":"Ubuntu:22.04:LTS","name":"glibc"},
	"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.35-0ubuntu3.4"}]}]}]}`
	db := openDB(t)
	if _, err := vulndb.Import(context.Background(), db, writeFile(t, "UBUNTU-CVE-2023-4911.json", []byte(rec))); err != nil {
		t.Fatal(err)
	}
	libc := func(eco, version string) inventory.Component {
		return inventory.Component{Ecosystem: eco, Name: "libc6", SourceName: "glibc", Version: version}
	}
	tests := []struct {
		c    inventory.Component
		want map[string]want
	}{
		{libc("Ubuntu:22.04:LTS", "2.35-0ubuntu3.1"), map[string]want{"libc6 UBUNTU-CVE-2023-4911": {Status: "fixed", Fixed: "2.35-0ubuntu3.4"}}},
		{libc("Ubuntu:22.04:LTS", "2.35-0ubuntu3.4"), map[string]want{}},
		{libc("Ubuntu:24.04:LTS", "2.35-0ubuntu3.1"), map[string]want{}},
	}
	for _, tt := range tests {
		t.Run(tt.c.Ecosystem+" "+tt.c.Version, func(t *testing.T) {
			gotW := map[string]want{}
			for k, f := range match(t, db, &inventory.Inventory{Components: []inventory.Component{tt.c}}) {
				gotW[k] = got(f)
			}
			if diff := cmp.Diff(gotW, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// TestTrackerExportStatuses pins how the export's per-release states map
// to finding statuses. The export is written here, one CVE per state, in
// the shape of the tracker's /tracker/data/json.
func TestTrackerExportStatuses(t *testing.T) {
	export := `{"foo": {
	"CVE-0000-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.2-1+deb12u1", "urgency": "medium"}}},
	"CVE-0000-0002": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "not yet assigned"}}},
	"CVE-0000-0003": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""}}},
	"CVE-0000-0004": {"releases": {"bookworm": {"status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": "ignored"}}},
	"CVE-0000-0005": {"releases": {"bookworm": {"status": "open", "urgency": "medium**", "nodsa": "x", "nodsa_reason": "postponed"}}},
	"CVE-0000-0006": {"releases": {"bookworm": {"status": "open", "urgency": "unimportant"}}},
	"CVE-0000-0007": {"releases": {"bookworm": {"status": "open", "urgency": "end-of-life"}}},
	"CVE-0000-0008": {"releases": {"bookworm": {"status": "undetermined", "urgency": "not yet assigned"}}},
	"CVE-0000-0009": {"releases": {"trixie": {"status": "open", "urgency": "high"}}},
	"CVE-0000-0010": {"releases": {"bookworm": {"status": "resolved", "urgency": "low"}}}
	}}`
	db := openDB(t)
	if _, err := vulndb.Import(context.Background(), db, writeFile(t, "json", []byte(export))); err != nil {
		t.Fatal(err)
	}
	findings := match(t, db, &inventory.Inventory{Distro: bookworm, Components: []inventory.Component{deb("libfoo1", "foo", "1.2-1")}})
	gotW := map[string]want{}
	for k, f := range findings {
		gotW[k] = got(f)
	}
	wantW := map[string]want{
		"libfoo1 CVE-0000-0001": {Status: "fixed", Fixed: "1.2-1+deb12u1", Severity: "medium"},
		"libfoo1 CVE-0000-0003": {Status: "no-dsa", Severity: "low"},
		"libfoo1 CVE-0000-0004": {Status: "ignored", Severity: "low"},
		"libfoo1 CVE-0000-0005": {Status: "no-dsa", Severity: "medium"}, // postponed
		"libfoo1 CVE-0000-0006": {Status: "unimportant", Severity: "unimportant"},
		"libfoo1 CVE-0000-0007": {Status: "will-not-fix", Severity: "end-of-life"},
		"libfoo1 CVE-0000-0008": {Status: "open"},
		"libfoo1 CVE-0000-0010": {Status: "open", Severity: "low"}, // resolved without a version
	}
	if diff := cmp.Diff(gotW, wantW); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestRedHatOSV matches an RPM by its binary name and epoch-qualified
// version within its RHEL release, in every stream: osv-scalibr names the
// stream of the image's CPE (baseos), Red Hat's records the one a package
// ships in. The records are shaped like osv.dev's RHSA records.
func TestRedHatOSV(t *testing.T) {
	const baseos = "Red Hat:enterprise_linux:9::baseos"
	rhsa := func(id, eco, pkg, fixed string) string {
		return `{"id":"` + id + `","modified":"2024-01-01T00:00:00Z",
		"affected":[{"package":{"ecosystem":"` + eco + `","name":"` + pkg + `"},
		"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"` + fixed + `"}]}]}]}`
	}
	db := openDB(t)
	dir := t.TempDir()
	for name, rec := range map[string]string{
		"RHSA-2024-0001.json": rhsa("RHSA-2024:0001", baseos, "bash", "0:5.1.8-9.el9"),
		"RHSA-2024-0002.json": rhsa("RHSA-2024:0002", "Red Hat:enterprise_linux:9::appstream", "nodejs", "1:16.20.2-4.el9"),
		"RHSA-2024-0003.json": rhsa("RHSA-2024:0003", "Red Hat:enterprise_linux:8::appstream", "nodejs", "1:99-1.el8"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(rec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vulndb.Import(context.Background(), db, dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pkg, version string
		want         string // the RHSA id, "" for none
		fixed        string
	}{
		{"bash", "0:5.1.8-6.el9", "RHSA-2024:0001", "0:5.1.8-9.el9"},
		{"bash", "0:5.1.8-9.el9", "", ""},
		{"bash", "5.1.8-10.el9", "", ""},
		{"nodejs", "1:16.20.2-3.el9", "RHSA-2024:0002", "1:16.20.2-4.el9"}, // appstream, not RHEL 8's
	}
	for _, tt := range tests {
		t.Run(tt.pkg+"-"+tt.version, func(t *testing.T) {
			got := match(t, db, &inventory.Inventory{Components: []inventory.Component{
				{Ecosystem: baseos, Name: tt.pkg, Version: tt.version, SourceName: tt.pkg},
			}})
			if tt.want == "" {
				if len(got) > 0 {
					t.Errorf("findings = %v, want none", keys(got))
				}
				return
			}
			f, ok := got[tt.pkg+" "+tt.want]
			if !ok || len(got) != 1 {
				t.Fatalf("findings = %v, want only %s", keys(got), tt.want)
			}
			if f.Status != "fixed" || f.FixedVersion != tt.fixed {
				t.Errorf("status %q fixed %q, want fixed in %s", f.Status, f.FixedVersion, tt.fixed)
			}
		})
	}
}
