//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// TestFirewallTagMoves serves a clean image under a tag, then the upstream
// moves the tag to a compromised build (the same name, a new digest): once
// breakwater checks the tag again, docker's next pull of the same tag gets
// the new digest judged, and withheld, while the clean digest stays
// pullable by digest.
func TestFirewallTagMoves(t *testing.T) {
	e := newFWEnv(t, "cache:\n  tag_max_age: 1s\n")
	clean := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("debug", "4.4.1")))
	cleanDigest := e.up.Push(t, "library/app", "stable", clean).String()
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/app", "stable")
	d.Pull(t, ref, "")

	e.up.Push(t, "library/app", "stable", maliciousNPM(t))
	var err error
	for range 30 { // the tag is checked again after its 1s max age
		if err = d.PullErr(ref, ""); err != nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull after the tag moved to a malicious build: want withheld, got %v", err)
	}
	d.Pull(t, bw.Host+"/library/app@"+cleanDigest, "")
}
