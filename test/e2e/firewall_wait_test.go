//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// waitConfig lets a first pull wait for its inspection only a millisecond;
// fetching an image's config and layer from the upstream alone takes tens
// of milliseconds (basic auth checks a bcrypt hash on every request).
const waitConfig = `firewall:
  wait: 1ms
`

// TestFirewallInspectionWait pulls images whose inspection outlasts the
// configured wait: the client gets a retryable 429 TOOMANYREQUESTS with
// Retry-After and a message saying the image is being inspected (docker
// shows it), inspection goes on, and a later try gets the verdict.
func TestFirewallInspectionWait(t *testing.T) {
	e := newFWEnv(t, waitConfig)
	e.up.Push(t, "library/first", "1", harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("ms", "2.1.3"))))
	e.up.Push(t, "library/second", "1", harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("ms", "2.1.2"))))
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	// 1. docker's first pull is told to come back later.
	first := bw.Ref("library/first", "1")
	err := d.PullErr(first, "")
	if err == nil {
		t.Fatalf("docker's first pull of %s succeeded within a 1ms wait", first)
	}
	if !strings.Contains(err.Error(), "image is being inspected, retry later") {
		t.Errorf("docker's first pull: want the inspection message, got:\n%v", err)
	}
	t.Logf("first pull: %v", err)

	// 2. The same on the wire, with Retry-After for clients that honour it.
	req, err := http.NewRequest(http.MethodGet, bw.URL+"/v2/library/second/manifests/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), "TOOMANYREQUESTS") {
		t.Errorf("first GET: status %d, Retry-After %q, body %s; want 429 with Retry-After and TOOMANYREQUESTS",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// 3. Inspection went on: a later try gets the verdict (allow).
	for _, ref := range []string{first, bw.Ref("library/second", "1")} {
		var err error
		for range 60 {
			if err = d.PullErr(ref, ""); err == nil || !strings.Contains(err.Error(), "being inspected") {
				break
			}
			time.Sleep(time.Second)
		}
		if err != nil {
			t.Errorf("docker pull %s after inspection: %v", ref, err)
		}
	}
}
