//go:build e2e

package e2e

import (
	"slices"
	"testing"

	"breakwater/test/harness"
)

// imagePolicies are conditions on the image rather than its findings.
const imagePolicies = `policies:
  - name: stale
    conditions: {older_than_days: 365}
    action: warn
  - name: only-approved
    conditions:
      except_repositories: ["docker.io/library/approved", "ghcr.io/**"]
    action: fail
`

// TestFirewallImagePolicies judges one clean image, built on 2024-01-01,
// in two repositories under policies on the image's age and repository:
// both fire "stale", and only the repository outside the allowed list is
// withheld.
func TestFirewallImagePolicies(t *testing.T) {
	e := newFWEnv(t, imagePolicies)
	img := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("ms", "2.1.3")))
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))

	cases := []struct {
		repo     string
		result   string
		policies []string
	}{
		{"library/approved", "audit", []string{"stale:warn"}},
		{"library/other", "quarantine", []string{"only-approved:fail", "stale:warn"}},
	}
	for _, c := range cases {
		t.Run(c.repo, func(t *testing.T) {
			e.up.Push(t, c.repo, "1", img)
			r, _ := e.scan(t, c.repo+":1", "--firewall", "quarantine")
			if r.Result != c.result || !slices.Equal(r.policies(), c.policies) {
				t.Errorf("result %q with policies %v, want %q with %v", r.Result, r.policies(), c.result, c.policies)
			}
		})
	}
}
