//go:build e2e

package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/test/harness"
)

// debianRecords is a chosen set of real Debian security tracker records
// (testdata/debian-bookworm, see its README). Each one's bookworm status
// is settled whatever point release debootstrap fetched: unfixed,
// no-dsa, ignored, or fixed in a version bookworm has had for years.
const debianRecords = "testdata/debian-bookworm"

// debianFinding is what a test expects of one record on the Debian 12
// minbase image: the source package it is keyed by, the binary packages
// installed from that source, and Debian's bookworm status.
type debianFinding struct {
	Source   string
	Binaries []string
	Status   string
}

// wantDebian is every finding the records give on bookworm minbase. Left
// out on purpose, and so required to be absent:
//   - CVE-2024-3094 (xz-utils): bookworm <not-affected>;
//   - CVE-2022-48303 (tar): fixed in bookworm's 1.34+dfsg-1.2+deb12u1;
//   - CVE-2023-47038 (perl): fixed in bookworm's 5.36.0-7+deb12u1;
//   - CVE-2022-1271 (gzip): fixed in 1.12-1, the version bookworm ships;
//   - CVE-2023-4911 (glibc): its record names only unstable's fix
//     (2.37-12), DSA-5514-1 names bookworm's (2.36-9+deb12u3);
//   - CVE-2024-45490 (expat): not installed.
var wantDebian = map[string]debianFinding{
	"CVE-2005-2541":    {"tar", []string{"tar"}, "unimportant"},
	"CVE-2011-4116":    {"perl", []string{"perl-base"}, "unimportant"},
	"CVE-2016-2781":    {"coreutils", []string{"coreutils"}, "ignored"},
	"CVE-2018-6829":    {"libgcrypt20", []string{"libgcrypt20"}, "unimportant"},
	"CVE-2019-1010022": {"glibc", []string{"libc-bin", "libc6"}, "unimportant"},
	"CVE-2022-0563": {"util-linux", []string{
		"bsdutils", "libblkid1", "libmount1", "libsmartcols1", "libuuid1",
		"mount", "util-linux", "util-linux-extra"}, "unimportant"},
	"CVE-2023-39804": {"tar", []string{"tar"}, "no-dsa"},
	"CVE-2023-50495": {"ncurses", []string{"libtinfo6", "ncurses-base", "ncurses-bin"}, "no-dsa"},
	"CVE-2023-7008":  {"systemd", []string{"libsystemd0", "libudev1"}, "no-dsa"},
	"CVE-2024-2236":  {"libgcrypt20", []string{"libgcrypt20"}, "open"},
	"CVE-2024-22365": {"pam", []string{"libpam-modules", "libpam-modules-bin", "libpam-runtime", "libpam0g"}, "no-dsa"},
	"CVE-2025-1390":  {"libcap2", []string{"libcap2"}, "no-dsa"},
	"CVE-2026-85091": {"zlib", []string{"zlib1g"}, "open"},
}

// TestFirewallDebianFindings judges the debootstrap Debian 12 image with
// `breakwater scan` against real tracker records: the findings are
// exactly the records whose bookworm status makes the installed versions
// vulnerable, matched through each binary package's source package, each
// with Debian's status. None of them has a fix for bookworm or a score, so
// the shipped policies serve the image even in quarantine mode.
func TestFirewallDebianFindings(t *testing.T) {
	e := newFWEnv(t, "")
	img := harness.DebianImage(t, harness.Docker)
	e.up.Push(t, "library/debian", "12", img)
	e.importRecords(t, debianRecords)

	r, err := e.scan(t, "library/debian:12", "--firewall", "quarantine")
	if err != nil {
		t.Fatalf("scan failed: %v", err)
	}
	if r.Digest != harness.Digest(t, img).String() {
		t.Errorf("scanned digest = %s, want %s", r.Digest, harness.Digest(t, img))
	}
	if r.Repo != "docker.io/library/debian" {
		t.Errorf("repository = %q, want docker.io/library/debian", r.Repo)
	}
	if !r.Served || r.QuarantineID != "" {
		t.Errorf("served = %v, quarantine id %q; want served, no quarantine", r.Served, r.QuarantineID)
	}
	if r.Evidence.Components < 80 {
		t.Errorf("components = %d, want the ~88 dpkg packages of minbase", r.Evidence.Components)
	}

	got := map[string]debianFinding{}
	for _, f := range r.Evidence.Findings {
		if f.Component.Ecosystem != "Debian:12" {
			t.Errorf("finding %s on %s has ecosystem %q, want Debian:12", f.ID, f.Component.Name, f.Component.Ecosystem)
		}
		if f.Component.Path != "var/lib/dpkg/status" {
			t.Errorf("finding %s on %s from path %q, want var/lib/dpkg/status", f.ID, f.Component.Name, f.Component.Path)
		}
		g := got[f.ID]
		if g.Source != "" && g.Source != f.Component.SourceName {
			t.Errorf("finding %s on sources %s and %s", f.ID, g.Source, f.Component.SourceName)
		}
		if g.Status != "" && g.Status != f.Status {
			t.Errorf("finding %s with statuses %s and %s", f.ID, g.Status, f.Status)
		}
		g.Source, g.Status = f.Component.SourceName, f.Status
		g.Binaries = append(g.Binaries, f.Component.Name)
		slices.Sort(g.Binaries)
		got[f.ID] = g
	}
	if diff := cmp.Diff(wantDebian, got); diff != "" {
		t.Errorf("findings by id (-want +got):\n%s", diff)
	}
	if t.Failed() {
		t.Logf("policies fired: %s", strings.Join(r.policies(), ", "))
	}
}

// nvdRecords are the NVD records of the CVEs in wantDebian
// (testdata/nvd-bookworm, see its README), which score them.
const nvdRecords = "testdata/nvd-bookworm"

// wantScores is each finding's CVSS base score from its NVD record: the
// highest of its v3.x and v4.0 vectors. CVE-2005-2541 has only a CVSS v2
// score, which breakwater does not use, so it stays unscored.
var wantScores = map[string]float64{
	"CVE-2011-4116":    3.3,
	"CVE-2016-2781":    6.5, // v3.0 6.5 beside v3.1 4.6
	"CVE-2018-6829":    7.5,
	"CVE-2019-1010022": 9.8,
	"CVE-2022-0563":    5.5,
	"CVE-2023-39804":   6.2,
	"CVE-2023-50495":   6.5,
	"CVE-2023-7008":    5.9,
	"CVE-2024-2236":    5.9,
	"CVE-2024-22365":   5.5,
	"CVE-2025-1390":    6.1,
	"CVE-2026-85091":   8.3, // v4.0 8.3 beside v3.1 7.4
}

// TestFirewallDebianScores adds NVD's scores to the Debian records: the
// shipped policies then withhold the Debian 12 image for one finding,
// CVE-2026-85091 in zlib (8.3, open in bookworm). CVE-2019-1010022 scores
// 9.8 but Debian counts it unimportant, which the cvss-8 policy leaves out.
// docker, pulling in message mode, is told the policy and the quarantine
// id of the verdict scan stored.
func TestFirewallDebianScores(t *testing.T) {
	e := newFWEnv(t, "firewall:\n  show_reason: true\n")
	e.up.Push(t, "library/debian", "12", harness.DebianImage(t, harness.Docker))
	e.importRecords(t, debianRecords)
	e.importRecords(t, nvdRecords)

	var status struct {
		Ready   bool `json:"ready"`
		Sources []struct {
			Counts map[string]int `json:"counts"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(e.mustCLI(t, "vulndb", "status", "--format", "json")), &status); err != nil {
		t.Fatalf("parse vulndb status: %v", err)
	}
	counts := map[string]int{}
	for _, src := range status.Sources {
		for eco, n := range src.Counts {
			counts[eco] += n
		}
	}
	if want := map[string]int{"Debian": 19, "NVD": 13}; !status.Ready || !maps.Equal(counts, want) {
		t.Errorf("vulndb status: ready %v, records %v; want ready, %v", status.Ready, counts, want)
	}

	r, err := e.scan(t, "library/debian:12", "--firewall", "quarantine")
	if err == nil {
		t.Errorf("scan exited 0, want non-zero for a withheld image")
	}
	if r.Served || r.Result != "quarantine" || r.QuarantineID == "" {
		t.Fatalf("result %q, served %v, quarantine id %q; want quarantine, withheld, an id", r.Result, r.Served, r.QuarantineID)
	}
	got := map[string]float64{}
	for _, f := range r.Evidence.Findings {
		if f.ID == "CVE-2005-2541" {
			if f.Scored || f.Score != 0 {
				t.Errorf("CVE-2005-2541 scored %v (%s), want unscored", f.Score, f.Vector)
			}
			continue
		}
		if !f.Scored {
			t.Errorf("%s on %s unscored, want its NVD score", f.ID, f.Component.Name)
		}
		got[f.ID] = f.Score
	}
	if diff := cmp.Diff(wantScores, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	var fired []string
	for _, m := range r.Evidence.Verdict.Matches {
		for _, f := range m.Findings {
			fired = append(fired, m.Policy+":"+m.Action+":"+f.ID+":"+f.Component.Name)
		}
	}
	if want := []string{"cvss-8:fail:CVE-2026-85091:zlib1g"}; !slices.Equal(fired, want) {
		t.Errorf("policy matches = %v, want %v", fired, want)
	}

	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	err = d.PullErr(bw.Ref("library/debian", "12"), "")
	want := "blocked by breakwater policy cvss-8; quarantine id " + r.QuarantineID
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("docker pull: want %q in docker's output, got %v", want, err)
	}
}

// TestFirewallDebianVendorWords runs policies on what Debian says rather
// than on scores: with no NVD data every finding is unscored, so severity
// falls back to the tracker's urgency (only CVE-2016-2781 says "low"; the
// "unimportant" ones rank below it), and status picks the findings Debian
// has left open in bookworm.
func TestFirewallDebianVendorWords(t *testing.T) {
	e := newFWEnv(t, `policies:
  - name: low-or-worse
    conditions: {severity: low}
    action: warn
  - name: open-in-bookworm
    conditions: {status: [open]}
    action: warn
`)
	e.up.Push(t, "library/debian", "12", harness.DebianImage(t, harness.Docker))
	e.importRecords(t, debianRecords)

	r, err := e.scan(t, "library/debian:12", "--firewall", "quarantine")
	if err != nil || !r.Served || r.Result != "audit" {
		t.Errorf("result %q, served %v, err %v; want audit (warnings only), served", r.Result, r.Served, err)
	}
	got := map[string][]string{}
	for _, m := range r.Evidence.Verdict.Matches {
		for _, f := range m.Findings {
			if !slices.Contains(got[m.Policy], f.ID) {
				got[m.Policy] = append(got[m.Policy], f.ID)
			}
		}
		slices.Sort(got[m.Policy])
	}
	want := map[string][]string{
		"low-or-worse":     {"CVE-2016-2781"},
		"open-in-bookworm": {"CVE-2024-2236", "CVE-2026-85091"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings each policy fired on (-want +got):\n%s", diff)
	}
}
