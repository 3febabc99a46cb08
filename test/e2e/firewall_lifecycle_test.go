//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"breakwater/test/harness"
)

// violations lists the "violation" audit entries of one repository.
func (e *fwEnv) violations(t *testing.T, repo string) []auditEntry {
	t.Helper()
	out := e.mustCLI(t, "audit", "--repo", repo, "--action", "violation", "--format", "json")
	var entries []auditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	return entries
}

// TestFirewallLifecycle follows images through the firewall's life on one
// data directory, with docker pulling through each serve:
//   - an image cached while the firewall was off is audited, not withheld,
//     once it is on, even after data that condemns it;
//   - new data re-evaluates served images: the violation is recorded and the
//     image still served while firewall.block_served is off;
//   - with block_served on, a restarted serve withholds the served image,
//     and the audit log kept what happened before the restart.
func TestFirewallLifecycle(t *testing.T) {
	e := newFWEnv(t, "")
	img := maliciousNPM(t)
	imgDigest := harness.Digest(t, img).String()
	e.up.Push(t, "library/early", "1", img)
	e.up.Push(t, "library/served", "1", img)
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	// 1. A plain cache: early is cached unjudged.
	bw := e.serve(t, "off")
	d.Pull(t, bw.Ref("library/early", "1"), "")
	bw.Stop(t)

	// 2. The firewall on, with data that knows nothing of npm malware.
	e.importRecords(t, vulnTestdata(t, "osv", "go"))
	bw = e.serve(t, "quarantine")
	early, served := bw.Ref("library/early", "1"), bw.Ref("library/served", "1")
	d.Pull(t, early, "")
	d.Pull(t, served, "")
	for _, repo := range []string{"docker.io/library/early", "docker.io/library/served"} {
		if v := e.violations(t, repo); len(v) != 0 {
			t.Errorf("violations of %s before the malware data = %+v, want none", repo, v)
		}
	}

	// 3. The malware data arrives: both images are re-evaluated and their
	// violations recorded, and both are still served.
	out := e.mustCLI(t, "vulndb", "import", vulnTestdata(t, "osv", "malicious", "npm"))
	if !strings.Contains(out, "re-evaluated cached images: 2 with new violations") {
		t.Errorf("import output does not report 2 re-evaluated images:\n%s", out)
	}
	for _, repo := range []string{"docker.io/library/early", "docker.io/library/served"} {
		v := e.violations(t, repo)
		if len(v) != 1 || v[0].Digest != imgDigest || !strings.Contains(v[0].Details, "malware") {
			t.Errorf("violations of %s after the malware data = %+v, want one naming malware", repo, v)
		}
	}
	d.RemoveAll(t)
	d.Pull(t, early, "")
	d.Pull(t, served, "")
	if recs := e.quarantineList(t); len(recs) != 0 {
		t.Errorf("quarantine records with block_served off = %+v, want none", recs)
	}
	bw.Stop(t)

	// 4. block_served on: the restarted serve re-evaluates at start and
	// withholds the served image, but not the one cached before the
	// firewall.
	if err := os.WriteFile(e.config, []byte(offlineVulnDB+"firewall:\n  block_served: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bw = e.serve(t, "quarantine")
	early, served = bw.Ref("library/early", "1"), bw.Ref("library/served", "1")
	d.RemoveAll(t)
	d.Pull(t, early, "")
	if err := d.PullErr(served, ""); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull %s with block_served on: want withheld (manifest unknown), got %v", served, err)
	}
	recs := e.quarantineList(t)
	if len(recs) != 1 || recs[0].Repo != "docker.io/library/served" || recs[0].Digest != imgDigest {
		t.Errorf("quarantine records with block_served on = %+v, want one for library/served", recs)
	}
	// The audit log survived both restarts.
	if v := e.violations(t, "docker.io/library/served"); len(v) == 0 {
		t.Errorf("the violation recorded before the restart is gone from the audit log")
	}
}
