//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// TestFirewallWaiverByDigest administers a quarantine record by the image
// digest instead of its id: a note shows in the record and the audit log,
// and a release with an expiry lets docker pull the image until it ends,
// after which the same pull is withheld again without anyone acting.
func TestFirewallWaiverByDigest(t *testing.T) {
	e := newFWEnv(t, "")
	img := maliciousNPM(t)
	dgst := harness.Digest(t, img).String()
	e.up.Push(t, "library/evil", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))

	// scan judges it as a first pull would, and the verdict is stored.
	if r, err := e.scan(t, "library/evil:1", "--firewall", "quarantine"); err == nil || r.QuarantineID == "" {
		t.Fatalf("scan: want a quarantine and a non-zero exit, got id %q, err %v", r.QuarantineID, err)
	}

	if recs := e.quarantineList(t); len(recs) != 1 || !strings.HasPrefix(recs[0].RequestedBy, "cli:") {
		t.Errorf("quarantine records = %+v, want one requested by the cli", recs)
	}

	const note = "asked the maintainers about debug 4.4.2"
	e.mustCLI(t, "quarantine", "note", dgst, note)
	show := e.mustCLI(t, "quarantine", "show", dgst, "--format", "json")
	if !strings.Contains(show, note) {
		t.Errorf("quarantine show %s does not carry the note", dgst)
	}
	audit := e.mustCLI(t, "audit", "--digest", dgst, "--action", "noted", "--format", "json")
	if !strings.Contains(audit, note) {
		t.Errorf("audit log has no note entry:\n%s", audit)
	}

	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/evil", "1")
	if err := d.PullErr(ref, ""); err == nil {
		t.Fatalf("docker pull %s succeeded before any release", ref)
	}

	// Long enough for one small pull on a loaded machine, short enough to
	// wait out.
	const expiry = 20 * time.Second
	e.mustCLI(t, "quarantine", "release", dgst, "--reason", "e2e: a short waiver", "--expires", expiry.String())
	d.Pull(t, ref, "")

	deadline := time.Now().Add(expiry + time.Minute)
	var err error
	for time.Now().Before(deadline) {
		if err = d.PullErr(ref, ""); err != nil {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull after the waiver expired: want withheld (manifest unknown), got %v", err)
	}
}
