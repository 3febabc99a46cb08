package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/policy"
)

func TestFirewallYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Config
	}{
		{
			name: "policies replace the defaults whole",
			yaml: `
policies:
  - name: high
    description: scored 7.5 or more with a fix
    conditions:
      min_score: 7.5
      fixable: true
      except_status: [no-dsa]
      packages:
        - {ecosystem: npm, name: event-stream, version: 3.3.6}
        - name: xz-utils
    action: fail
  - name: old
    conditions: {older_than_days: 365, repositories: ["docker.io/library/*"]}
    action: warn
`,
			want: with(func(c *Config) {
				c.Policies = policy.Set{
					{
						Name: "high", Description: "scored 7.5 or more with a fix",
						Conditions: policy.Conditions{
							MinScore: 7.5, Fixable: true, ExceptStatus: []string{"no-dsa"},
							Packages: []policy.Package{
								{Ecosystem: "npm", Name: "event-stream", Version: "3.3.6"},
								{Name: "xz-utils"},
							},
						},
						Action: policy.ActionFail,
					},
					{
						Name:       "old",
						Conditions: policy.Conditions{OlderThanDays: 365, Repositories: []string{"docker.io/library/*"}},
						Action:     policy.ActionWarn,
					},
				}
			}),
		},
		{
			name: "firewall keys sit beside wait",
			yaml: `
firewall:
  mode: audit
  show_reason: true
  wait: 2m
  repositories:
    - {match: "ghcr.io/**", mode: quarantine, fail_open: true}
`,
			want: with(func(c *Config) {
				c.Firewall = Firewall{
					Firewall: policy.Firewall{
						Mode: policy.ModeAudit, ShowReason: true,
						Repositories: []policy.RepositoryRule{{Match: "ghcr.io/**", Mode: policy.ModeQuarantine, FailOpen: true}},
					},
					Wait: 2 * time.Minute,
				}
			}),
		},
		{
			name: "feeds as urls or mappings",
			yaml: `
vulndb:
  refresh: 0s
  load_at_start: false
  feeds:
    - https://mirror.example/debian.json
    - {name: osv-npm, url: /srv/mirror/npm-all.zip}
`,
			want: with(func(c *Config) {
				c.VulnDB = VulnDB{Feeds: []Feed{
					{URL: "https://mirror.example/debian.json"},
					{Name: "osv-npm", URL: "/srv/mirror/npm-all.zip"},
				}}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(writeFile(t, "c.yaml", tt.yaml), nil, Flags{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestFirewallErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		environ []string
		want    string
	}{
		{"score out of range", "policies:\n  - {name: a, conditions: {min_score: 11}, action: fail}\n", nil, "policies[0].conditions.min_score: must be between 0 and 10"},
		{"score not a number", "policies:\n  - {name: a, conditions: {min_score: high}, action: fail}\n", nil, `policies[0].conditions.min_score: "high" is not a number (line 2)`},
		{"third policy named", "policies:\n  - {name: a, conditions: {malware: true}, action: fail}\n  - {name: b, conditions: {malware: true}, action: fail}\n  - {name: c, conditions: {malware: true}, action: block}\n", nil, "policies[2].action: must be fail, warn or none"},
		{"unknown condition", "policies:\n  - {name: a, conditions: {cvss: 8}, action: fail}\n", nil, "policies[0].conditions.cvss: unknown key"},
		{"unknown package key", "policies:\n  - {name: a, conditions: {packages: [{nam: x}]}, action: fail}\n", nil, "policies[0].conditions.packages[0].nam: unknown key"},
		{"bad mode", "firewall:\n  mode: block\n", nil, "firewall.mode"},
		{"bad rule", "firewall:\n  repositories:\n    - {mode: audit}\n", nil, "firewall.repositories[0].match"},
		{"negative wait", "firewall:\n  wait: -1s\n", nil, "firewall.wait: must be positive"},
		{"wait from env", "", []string{"BREAKWATER_FIREWALL_WAIT=soon"}, "BREAKWATER_FIREWALL_WAIT (firewall.wait)"},
		{"feed without url", "vulndb:\n  feeds:\n    - {name: x}\n", nil, "vulndb.feeds[0].url: must not be empty"},
		{"feed scheme", "vulndb:\n  feeds:\n    - ftp://mirror/x.zip\n", nil, "vulndb.feeds[0].url: must be an http or https URL or a local path"},
		{"feed twice", "vulndb:\n  feeds:\n    - /srv/a.zip\n    - /srv/a.zip\n", nil, `vulndb.feeds[1].name: "/srv/a.zip" is already used by vulndb.feeds[0]`},
		{"negative refresh", "vulndb:\n  refresh: -1h\n", nil, "vulndb.refresh: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tt.yaml), tt.environ, Flags{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFirewallOverride(t *testing.T) {
	file := writeFile(t, "c.yaml", "firewall:\n  mode: quarantine\n  repositories:\n    - {match: \"ghcr.io/**\", mode: audit, show_reason: true}\n")
	tests := []struct {
		name    string
		environ []string
		flags   Flags
		want    policy.Mode
	}{
		{"file", nil, Flags{}, policy.ModeQuarantine},
		{"env", []string{"BREAKWATER_FIREWALL_MODE=audit"}, Flags{}, policy.ModeAudit},
		{"flag overrides rules too", nil, Flags{Firewall: policy.ModeOff}, policy.ModeOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(file, tt.environ, tt.flags)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := c.Firewall.Mode; got != tt.want {
				t.Errorf("firewall.mode = %q, want %q", got, tt.want)
			}
			rule := c.Firewall.Repositories[0]
			if tt.flags.Firewall != "" && (rule.Mode != tt.want || !rule.ShowReason) {
				t.Errorf("rule = %+v, want mode %q with show_reason kept", rule, tt.want)
			}
		})
	}
}

// TestDefaultFirewall pins the shipped start: the policy package's
// defaults, a 30s wait, and the public feeds refreshed daily.
func TestDefaultFirewall(t *testing.T) {
	c := Default()
	if diff := cmp.Diff(c.Policies, policy.Default()); diff != "" {
		t.Errorf("policies (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(c.Firewall.Firewall, policy.DefaultFirewall()); diff != "" {
		t.Errorf("firewall (-got +want):\n%s", diff)
	}
	if c.Firewall.Wait != 30*time.Second || c.VulnDB.Refresh != 24*time.Hour || !c.VulnDB.LoadAtStart {
		t.Errorf("got wait %v, refresh %v, load_at_start %v; want 30s, 24h, true", c.Firewall.Wait, c.VulnDB.Refresh, c.VulnDB.LoadAtStart)
	}
	if len(c.VulnDB.Feeds) == 0 || c.VulnDB.Feeds[0].SourceName() != "debian-tracker" {
		t.Errorf("got feeds %v, want the public feeds starting with debian-tracker", c.VulnDB.Feeds)
	}
}

func TestFirewallOn(t *testing.T) {
	rule := func(m policy.Mode) []policy.RepositoryRule {
		return []policy.RepositoryRule{{Match: "ghcr.io/**", Mode: m}}
	}
	tests := []struct {
		name string
		f    policy.Firewall
		want bool
	}{
		{"default", policy.DefaultFirewall(), true},
		{"off", policy.Firewall{Mode: policy.ModeOff}, false},
		{"off with an off rule", policy.Firewall{Mode: policy.ModeOff, Repositories: rule(policy.ModeOff)}, false},
		{"off with a rule taking the mode", policy.Firewall{Mode: policy.ModeOff, Repositories: rule("")}, false},
		{"off with an audit rule", policy.Firewall{Mode: policy.ModeOff, Repositories: rule(policy.ModeAudit)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Firewall{Firewall: tt.f}).On(); got != tt.want {
				t.Errorf("On() = %v, want %v", got, tt.want)
			}
		})
	}
}
