//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"breakwater/test/harness"
)

// auditConfig quarantines by default and audits one repository.
const auditConfig = `firewall:
  mode: quarantine
  repositories:
    - match: docker.io/library/audited
      mode: audit
`

// auditEntry is one entry of `breakwater audit --format json`.
type auditEntry struct {
	Action  string `json:"action"`
	Repo    string `json:"repository"`
	Digest  string `json:"digest"`
	Details string `json:"details"`
}

// TestFirewallAuditRepository pulls an image that fails the malware policy
// with docker from a repository whose rule says audit: it is served, and
// its violation is in the audit log with no quarantine record, while the
// same image in a quarantine-mode repository is withheld.
func TestFirewallAuditRepository(t *testing.T) {
	e := newFWEnv(t, auditConfig)
	img := maliciousNPM(t)
	imgDigest := harness.Digest(t, img).String()
	e.up.Push(t, "library/audited", "1", img)
	e.up.Push(t, "library/guarded", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))

	bw := e.serve(t, "") // the configured modes, rules included
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	audited := bw.Ref("library/audited", "1")
	d.Pull(t, audited, "")
	if got := repoDigest(t, d.RepoDigests(t, audited), bw.Host+"/library/audited"); got != imgDigest {
		t.Errorf("docker pulled %s, want %s", got, imgDigest)
	}
	err := d.PullErr(bw.Ref("library/guarded", "1"), "")
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull from the quarantine-mode repository: want manifest unknown, got %v", err)
	}

	out := e.mustCLI(t, "audit", "--repo", "docker.io/library/audited", "--action", "violation", "--format", "json")
	var entries []auditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	if len(entries) != 1 {
		t.Fatalf("violations of audited = %+v, want one", entries)
	}
	if v := entries[0]; v.Digest != imgDigest || !strings.Contains(v.Details, "malware") {
		t.Errorf("violation = %+v, want digest %s naming the malware policy", v, imgDigest)
	}
	if recs := recordsOf(t, e.quarantineList(t), "docker.io/library/audited"); len(recs) != 0 {
		t.Errorf("quarantine records of the audited repository = %+v, want none", recs)
	}
	if recs := recordsOf(t, e.quarantineList(t), "docker.io/library/guarded"); len(recs) != 1 {
		t.Errorf("quarantine records of the guarded repository = %+v, want one", recs)
	}
}
