//go:build e2e

package e2e

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"breakwater/test/harness"
)

// TestFirewallWhiteouts judges what a container would see: a malicious npm
// package that a later layer deletes (a whiteout), hides (an opaque
// directory) or upgrades is no component of the image, while one that
// stays is.
func TestFirewallWhiteouts(t *testing.T) {
	e := newFWEnv(t, "")
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	base := fileLayer(t, npmPackage("debug", "4.4.2"))
	whiteout := func(name string) file {
		return file{Name: "usr/lib/node_modules/" + name, Mode: 0o644}
	}
	cases := []struct {
		name   string
		top    v1.Layer
		result string
	}{
		{"kept", fileLayer(t, npmPackage("ms", "2.1.3")), "quarantine"},
		{"deleted", fileLayer(t, whiteout(".wh.debug")), "allow"},
		{"hidden by an opaque directory", fileLayer(t, whiteout(".wh..wh..opq"), npmPackage("ms", "2.1.3")), "allow"},
		{"upgraded", fileLayer(t, npmPackage("debug", "4.4.3")), "allow"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := "acme/layers" + string(rune('a'+i))
			img := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"}, base, c.top)
			e.up.Push(t, repo, "1", img)
			r, _ := e.scan(t, repo+":1", "--firewall", "quarantine")
			if r.Result != c.result {
				t.Errorf("result %q with findings %+v, want %q", r.Result, r.Evidence.Findings, c.result)
			}
		})
	}
}
