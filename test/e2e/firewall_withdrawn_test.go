//go:build e2e

package e2e

import (
	"testing"

	"breakwater/test/harness"
)

// TestFirewallRecordsLeaveTheData replaces a feed's data the way a refresh
// does (an import under the same source name): a withdrawn MAL- record
// never marks its package, and when the record that withheld an image is
// gone from the new data, re-evaluation lets docker pull the image, while
// its quarantine record stays for the history and shows the verdict now.
func TestFirewallRecordsLeaveTheData(t *testing.T) {
	e := newFWEnv(t, "")
	plex := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("@ctrl/plex", "6.0.0")))
	e.up.Push(t, "library/plex", "1", plex)
	e.up.Push(t, "library/debug", "1", maliciousNPM(t))
	withdrawn := vulnTestdata(t, "osv", "malicious", "withdrawn", "npm")
	current := vulnTestdata(t, "osv", "malicious", "npm")

	// MAL-2026-4377 names @ctrl/plex 6.0.0 but was withdrawn.
	e.mustCLI(t, "vulndb", "import", "--source", "osv-npm", withdrawn)
	r, err := e.scan(t, "library/plex:1", "--firewall", "quarantine")
	if err != nil || r.Result != "allow" || len(r.Evidence.Findings) != 0 {
		t.Errorf("plex under a withdrawn record: result %q, %d findings, err %v; want allow, none",
			r.Result, len(r.Evidence.Findings), err)
	}

	e.mustCLI(t, "vulndb", "import", "--source", "osv-npm", current)
	if r, _ = e.scan(t, "library/debug:1", "--firewall", "quarantine"); r.Served || r.Result != "quarantine" {
		t.Fatalf("debug 4.4.2 under MAL-2025-46974: result %q, served %v; want quarantine", r.Result, r.Served)
	}

	// The feed's next version no longer has the record.
	e.mustCLI(t, "vulndb", "import", "--source", "osv-npm", withdrawn)
	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	d.Pull(t, bw.Ref("library/debug", "1"), "")
	recs := e.quarantineList(t)
	if len(recs) != 1 || recs[0].Result == "quarantine" || recs[0].Released {
		t.Errorf("quarantine records = %+v, want debug's, kept, not released, with a verdict other than quarantine", recs)
	}
}
