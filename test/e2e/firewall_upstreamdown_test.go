//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"breakwater/test/harness"
)

// TestFirewallUpstreamDown stops the upstream after the firewall judged two
// images: docker still gets the allowed one from the cache, and the
// withheld one stays withheld; an outage is no way around a verdict.
func TestFirewallUpstreamDown(t *testing.T) {
	e := newFWEnv(t, "cache:\n  tag_max_age: 1s\n")
	e.up.Push(t, "library/clean", "1", harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("ms", "2.1.3"))))
	e.up.Push(t, "library/evil", "1", maliciousNPM(t))
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	clean, evil := bw.Ref("library/clean", "1"), bw.Ref("library/evil", "1")
	d.Pull(t, clean, "")
	if err := d.PullErr(evil, ""); err == nil {
		t.Fatalf("docker pull %s succeeded, want it withheld", evil)
	}

	e.up.Stop(t)
	d.RemoveAll(t)
	d.Pull(t, clean, "")
	err := d.PullErr(evil, "")
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull %s with the upstream down: want still withheld, got %v", evil, err)
	}
}
