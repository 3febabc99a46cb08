//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"breakwater/test/harness"
)

// TestFirewallClients pulls a withheld image in message mode with the
// other real clients: podman and skopeo show the policy and the quarantine
// id, as docker does. containerd resolves tags with HEAD only and prints
// just the status; the id is in the Breakwater-Quarantine-Id header of
// that HEAD (checked in TestFirewallMalwareDocker), which ctr does not show.
func TestFirewallClients(t *testing.T) {
	e := newFWEnv(t, "firewall:\n  show_reason: true\n")
	e.up.Push(t, "library/evil", "1", maliciousNPM(t))
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")
	ref := bw.Ref("library/evil", "1")

	podman := harness.NewPodman(t, harness.PodmanOptions{})
	skopeo := harness.NewSkopeo(t)
	ctrd := harness.StartContainerd(t)
	pulls := []struct {
		name    string
		pull    func() error
		message bool // the output carries the message, not only the status
	}{
		{"podman", func() error { return podman.PullErr(ref, "") }, true},
		{"skopeo", func() error { return skopeo.CopyErr(ref, "dir:"+filepath.Join(t.TempDir(), "dir")) }, true},
		{"containerd", func() error { return ctrd.PullErr(ref, "") }, false},
	}
	var id string
	for _, p := range pulls {
		t.Run(p.name, func(t *testing.T) {
			err := p.pull()
			if err == nil {
				t.Fatalf("%s pulled a withheld image", p.name)
			}
			if id == "" {
				recs := e.quarantineList(t)
				if len(recs) != 1 {
					t.Fatalf("quarantine records = %+v, want one", recs)
				}
				id = recs[0].ID
			}
			want := "blocked by breakwater policy malware; quarantine id " + id
			if !p.message {
				want = "403 Forbidden"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s output lacks %q:\n%v", p.name, want, err)
			}
		})
	}
}
