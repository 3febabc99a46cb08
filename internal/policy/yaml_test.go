package policy

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// TestYAMLKeys pins the key names the configuration file uses for policies
// and firewall settings, and that every field has one.
func TestYAMLKeys(t *testing.T) {
	doc := `
policies:
  - name: malware
    description: known malicious
    conditions: {malware: true}
    action: fail
  - name: everything
    conditions:
      min_score: 7.5
      severity: high
      fixable: true
      status: [open]
      except_status: [no-dsa, unimportant]
      ids: [CVE-2024-3094]
      packages:
        - {ecosystem: npm, name: event-stream, version: 3.3.6}
      older_than_days: 365
      repositories: ["docker.io/library/*"]
      except_repositories: ["docker.io/library/debian"]
    action: warn
  - name: uninspectable
    conditions: {inspection_failed: true}
    action: none
firewall:
  mode: audit
  fail_open: true
  show_reason: true
  block_served: true
  repositories:
    - {match: "ghcr.io/**", mode: quarantine, fail_open: false, show_reason: true}
`
	var got struct {
		Policies Set      `yaml:"policies"`
		Firewall Firewall `yaml:"firewall"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}

	wantPolicies := Set{
		{Name: "malware", Description: "known malicious", Conditions: Conditions{Malware: true}, Action: ActionFail},
		{Name: "everything", Conditions: Conditions{
			MinScore: 7.5, Severity: "high", Fixable: true,
			Status: []string{"open"}, ExceptStatus: []string{"no-dsa", "unimportant"},
			IDs:                []string{"CVE-2024-3094"},
			Packages:           []Package{{Ecosystem: "npm", Name: "event-stream", Version: "3.3.6"}},
			OlderThanDays:      365,
			Repositories:       []string{"docker.io/library/*"},
			ExceptRepositories: []string{"docker.io/library/debian"},
		}, Action: ActionWarn},
		{Name: "uninspectable", Conditions: Conditions{InspectionFailed: true}, Action: ActionNone},
	}
	wantFirewall := Firewall{
		Mode: ModeAudit, FailOpen: true, ShowReason: true, BlockServed: true,
		Repositories: []RepositoryRule{{Match: "ghcr.io/**", Mode: ModeQuarantine, ShowReason: true}},
	}
	if diff := cmp.Diff(got.Policies, wantPolicies); diff != "" {
		t.Errorf("policies (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(got.Firewall, wantFirewall); diff != "" {
		t.Errorf("firewall (-got +want):\n%s", diff)
	}
	if err := got.Policies.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	if err := got.Firewall.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}
