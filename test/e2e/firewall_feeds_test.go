//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// TestFirewallLocalFeed runs serve as a closed network would: its only
// feed is a folder on this machine (a mirror's copy of osv.dev's malicious
// npm records), loaded at start because the database is empty. serve
// becomes ready without any import by hand, the feed shows in vulndb
// status under its name, and docker's pull of a malicious image is withheld.
func TestFirewallLocalFeed(t *testing.T) {
	e := newFWEnv(t, "")
	e.localFeeds = true
	config := fmt.Sprintf(`vulndb:
  feeds:
    - {name: osv-npm, url: %s}
  load_at_start: true
  refresh: 0s
`, vulnTestdata(t, "osv", "malicious", "npm"))
	if err := os.WriteFile(e.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	e.up.Push(t, "library/evil", "1", maliciousNPM(t))
	bw := e.serve(t, "quarantine")

	var code int
	var body string
	for range 120 {
		if code, body = readiness(t, bw); code == http.StatusOK {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code != http.StatusOK {
		t.Fatalf("/readyz = %d %s after 30 s, want the local feed loaded", code, body)
	}
	if status := e.mustCLI(t, "vulndb", "status"); !strings.Contains(status, "osv-npm") {
		t.Errorf("vulndb status does not list the feed osv-npm:\n%s", status)
	}

	d := harness.StartDockerd(t, harness.DockerdOptions{})
	err := d.PullErr(bw.Ref("library/evil", "1"), "")
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull of the malicious image: want withheld (manifest unknown), got %v", err)
	}
}

// TestFirewallFeedRefresh lets serve refresh a local feed every second
// while it runs: when the mirror's folder gains the MAL- record of an
// image already served, the refresh re-evaluates it, records the
// violation, and (firewall.block_served on) withholds it from docker's
// next pull, with no command run by hand.
func TestFirewallFeedRefresh(t *testing.T) {
	e := newFWEnv(t, "")
	e.localFeeds = true
	feed := t.TempDir()
	copyFile(t, vulnTestdata(t, "osv", "malicious", "withdrawn", "npm", "@ctrl", "plex", "MAL-2026-4377.json"),
		feed+"/MAL-2026-4377.json")
	config := fmt.Sprintf(`vulndb:
  feeds:
    - {name: osv-npm, url: %s}
  load_at_start: true
  refresh: 1s
firewall:
  block_served: true
`, feed)
	if err := os.WriteFile(e.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	e.up.Push(t, "library/evil", "1", maliciousNPM(t))
	bw := e.serve(t, "quarantine")
	for range 120 {
		if code, _ := readiness(t, bw); code == http.StatusOK {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/evil", "1")
	d.Pull(t, ref, "") // the feed knows nothing against it yet

	copyFile(t, vulnTestdata(t, "osv", "malicious", "npm", "debug", "MAL-2025-46974.json"), feed+"/MAL-2025-46974.json")
	var v []auditEntry
	for range 120 {
		if v = e.violations(t, "docker.io/library/evil"); len(v) > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(v) != 1 || !strings.Contains(v[0].Details, "malware") {
		t.Fatalf("violations after the feed gained the record = %+v, want one naming malware", v)
	}
	err := d.PullErr(ref, "")
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull after the refresh with block_served on: want withheld, got %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
