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
