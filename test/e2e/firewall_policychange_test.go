//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// TestFirewallPolicyChange changes the policies between two runs of serve
// on one data directory: the restarted serve judges the images it judged
// before again (from their stored inventories, no layer fetched again),
// records the new violation, and keeps serving the image it had served, as
// firewall.block_served is off.
func TestFirewallPolicyChange(t *testing.T) {
	e := newFWEnv(t, `policies:
  - name: only-one-cve
    conditions: {ids: [CVE-1999-0001]}
    action: fail
`)
	e.counter = harness.StartCountingProxy(t, e.up.URL)
	img := maliciousNPM(t)
	e.up.Push(t, "library/evil", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	bw := e.serve(t, "quarantine")
	d.Pull(t, bw.Ref("library/evil", "1"), "") // malware, but no policy asks
	if v := e.violations(t, "docker.io/library/evil"); len(v) != 0 {
		t.Fatalf("violations under a policy that cannot fire = %+v, want none", v)
	}
	bw.Stop(t)
	layerGETs := e.counter.BlobGETs("library/evil")

	if err := os.WriteFile(e.config, []byte(offlineVulnDB+`policies:
  - name: malware
    conditions: {malware: true}
    action: fail
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bw = e.serve(t, "quarantine")
	// The re-evaluation runs in the background at start: wait for its
	// record, at most 30 s.
	var v []auditEntry
	for range 60 {
		if v = e.violations(t, "docker.io/library/evil"); len(v) > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(v) != 1 || !strings.Contains(v[0].Details, "policy=malware") {
		t.Errorf("violations after the policy change = %+v, want one from the malware policy", v)
	}
	d.RemoveAll(t)
	d.Pull(t, bw.Ref("library/evil", "1"), "")
	if recs := e.quarantineList(t); len(recs) != 0 {
		t.Errorf("quarantine records = %+v, want none: the image was served before the change", recs)
	}
	for b, n := range e.counter.BlobGETs("library/evil") {
		if n != layerGETs[b] {
			t.Errorf("upstream GETs of blob %s went from %d to %d: re-evaluation must not read layers again", b, layerGETs[b], n)
		}
	}
}
