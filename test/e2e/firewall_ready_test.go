//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// readiness is GET /readyz: its status and body.
func readiness(t *testing.T, bw *harness.Breakwater) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(bw.URL + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFirewallNotReady serves with no vulnerability data: /readyz says
// why, a quarantine-mode repository fails closed, an audit-mode one serves
// and records the image as not inspected. A `vulndb import` while serve
// runs makes it ready at once: the next pulls are judged, the audited one
// served with its violation recorded, the other withheld.
func TestFirewallNotReady(t *testing.T) {
	e := newFWEnv(t, auditConfig)
	img := maliciousNPM(t)
	imgDigest := harness.Digest(t, img).String()
	e.up.Push(t, "library/guarded", "1", img)
	e.up.Push(t, "library/audited", "1", img)
	bw := e.serve(t, "") // quarantine, with docker.io/library/audited in audit
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	code, body := readiness(t, bw)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no vulnerability data") {
		t.Errorf("/readyz = %d %s, want 503 saying no vulnerability data is loaded", code, body)
	}
	if !strings.Contains(bw.Process().Log(), "firewall not ready") {
		t.Errorf("breakwater's log does not say the firewall is not ready")
	}

	guarded := bw.Ref("library/guarded", "1")
	err := d.PullErr(guarded, "")
	if err == nil {
		t.Fatalf("docker pull %s succeeded with no vulnerability data, want it to fail closed", guarded)
	}
	if msg := err.Error(); !strings.Contains(msg, "503 Service Unavailable") {
		t.Errorf("docker pull %s: want 503 Service Unavailable, got:\n%s", guarded, msg)
	}
	t.Logf("fail closed: %v", err)

	d.Pull(t, bw.Ref("library/audited", "1"), "")
	out := e.mustCLI(t, "audit", "--repo", "docker.io/library/audited", "--action", "not-inspected", "--format", "json")
	var entries []auditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	if len(entries) != 1 || entries[0].Digest != imgDigest {
		t.Errorf("not-inspected entries of audited = %+v, want one for %s", entries, imgDigest)
	}

	// Data arrives while serve runs.
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	if code, body := readiness(t, bw); code != http.StatusOK {
		t.Errorf("/readyz after import = %d %s, want 200", code, body)
	}
	// The image served unjudged has no verdict yet, so its next pull is
	// judged: served, as the repository audits, with its violation.
	d.Pull(t, bw.Ref("library/audited", "1"), "")
	out = e.mustCLI(t, "audit", "--repo", "docker.io/library/audited", "--action", "violation", "--format", "json")
	entries = nil
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	if len(entries) != 1 || entries[0].Digest != imgDigest {
		t.Errorf("violations of audited after import and pull = %+v, want one for %s", entries, imgDigest)
	}
	if recs := recordsOf(t, e.quarantineList(t), "docker.io/library/audited"); len(recs) != 0 {
		t.Errorf("quarantine records of the audit-mode repository = %+v, want none", recs)
	}

	err = d.PullErr(guarded, "")
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull %s after import: want withheld (manifest unknown), got %v", guarded, err)
	}
}
