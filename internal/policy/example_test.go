package policy_test

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/policy"
)

// A firewall judges an image with the settings of its repository and the
// shipped policies, then tells the client only the reason.
func ExampleDecide() {
	repo := "docker.io/library/app"
	settings := policy.DefaultFirewall().For(repo)
	v := policy.Decide(policy.Input{
		Digest:     digest.FromString("manifest"),
		Repository: repo,
		Mode:       settings.Mode,
		FailOpen:   settings.FailOpen,
		Policies:   policy.Default(),
		Findings: []inventory.Finding{{
			ID:           "CVE-2024-0001",
			Score:        9.8,
			Scored:       true,
			FixedVersion: "1.2.4",
			Component:    inventory.Component{Ecosystem: "Go", Name: "example.com/lib", Version: "1.2.3"},
		}},
		Components: 42,
		Now:        time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
	})
	fmt.Println(v.Result, v.Result.Blocks(), v.Reason)
	for _, m := range v.Matches {
		fmt.Println(m.Policy, m.Action, len(m.Findings))
	}
	// Output:
	// quarantine true cvss-8
	// cvss-8 fail 1
	// fixable warn 1
}
