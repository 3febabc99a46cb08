package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
)

// testPolicies is a small set with one policy per action.
var testPolicies = Set{
	{Name: "malware", Conditions: Conditions{Malware: true}, Action: ActionFail},
	{Name: "critical", Conditions: Conditions{MinScore: 9}, Action: ActionFail},
	{Name: "fixable", Conditions: Conditions{Fixable: true}, Action: ActionWarn},
	{Name: "trial", Conditions: Conditions{IDs: []string{"CVE-2024-0004"}}, Action: ActionNone},
}

// input is a quarantine-mode pull judged by testPolicies; change applies a
// case's difference.
func input(findings []inventory.Finding, change func(*Input)) Input {
	in := Input{
		Digest:     imageID,
		Repository: "docker.io/library/app",
		Mode:       ModeQuarantine,
		Policies:   testPolicies,
		Findings:   findings,
		Components: 120,
		Created:    now.AddDate(0, -1, 0),
		Now:        now,
	}
	if change != nil {
		change(&in)
	}
	return in
}

func match(policy string, a Action, fs ...inventory.Finding) Match {
	return Match{Policy: policy, Action: a, Findings: fs}
}

func TestDecide(t *testing.T) {
	bomb := errors.New("read layer: decompression bomb")
	failed := func(in *Input) { in.InspectionErr = bomb }
	waiver := Waiver{Digest: imageID, Reason: "vendor image, fix scheduled"}
	tests := []struct {
		name     string
		findings []inventory.Finding
		change   func(*Input)
		want     Verdict
	}{
		// Modes.
		{
			name:     "off allows without looking",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Mode = ModeOff },
			want:     Verdict{Result: ResultAllow, Components: 120, Findings: 1},
		},
		{
			name:     "audit serves and records",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Mode = ModeAudit },
			want:     Verdict{Result: ResultAudit, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},
		{
			name:     "quarantine blocks",
			findings: []inventory.Finding{malware},
			want:     Verdict{Result: ResultQuarantine, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},
		{
			name:     "an empty mode fails closed as quarantine",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Mode = "" },
			want:     Verdict{Result: ResultQuarantine, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},

		// Actions and reasons.
		{
			name:     "warn audits in quarantine mode",
			findings: []inventory.Finding{highFixable},
			want:     Verdict{Result: ResultAudit, Reason: "fixable", Matches: []Match{match("fixable", ActionWarn, highFixable)}, Components: 120, Findings: 1},
		},
		{
			name:     "none is recorded and allows",
			findings: []inventory.Finding{lowOpen},
			want:     Verdict{Result: ResultAllow, Matches: []Match{match("trial", ActionNone, lowOpen)}, Components: 120, Findings: 1},
		},
		{
			name: "nothing fires",
			want: Verdict{Result: ResultAllow, Components: 120},
		},
		{
			name:     "the first fail policy in policy order names the reason",
			findings: []inventory.Finding{criticalOpen, highFixable, malware},
			want: Verdict{
				Result: ResultQuarantine, Reason: "malware",
				Matches: []Match{
					match("malware", ActionFail, malware),
					match("critical", ActionFail, criticalOpen),
					match("fixable", ActionWarn, highFixable),
				},
				Components: 120, Findings: 3,
			},
		},
		{
			name:     "a fail policy names the audit reason before a warn one",
			findings: []inventory.Finding{highFixable, criticalOpen},
			change: func(in *Input) {
				in.Mode = ModeAudit
				in.Policies = Set{testPolicies[2], testPolicies[1]}
			},
			want: Verdict{
				Result: ResultAudit, Reason: "critical",
				Matches:    []Match{match("fixable", ActionWarn, highFixable), match("critical", ActionFail, criticalOpen)},
				Components: 120, Findings: 2,
			},
		},
		{
			name:     "an unknown action counts as fail",
			findings: []inventory.Finding{highFixable},
			change: func(in *Input) {
				in.Policies = Set{{Name: "typo", Conditions: Conditions{Fixable: true}, Action: "block"}}
			},
			want: Verdict{Result: ResultQuarantine, Reason: "typo", Matches: []Match{match("typo", "block", highFixable)}, Components: 120, Findings: 1},
		},

		// Failed inspections.
		{
			name:     "inspection failed fails closed and ignores findings",
			findings: []inventory.Finding{malware},
			change:   failed,
			want:     Verdict{Result: ResultInspectionFailed, Reason: ReasonInspectionFailed, Components: 120, Findings: 1},
		},
		{
			name:   "inspection failed fails open where set",
			change: func(in *Input) { failed(in); in.FailOpen = true },
			want:   Verdict{Result: ResultAudit, Reason: ReasonInspectionFailed, Components: 120},
		},
		{
			name:   "inspection failed in audit mode is served",
			change: func(in *Input) { failed(in); in.Mode = ModeAudit },
			want:   Verdict{Result: ResultAudit, Reason: ReasonInspectionFailed, Components: 120},
		},
		{
			name:   "inspection failed in off mode is served",
			change: func(in *Input) { failed(in); in.Mode = ModeOff },
			want:   Verdict{Result: ResultAllow, Components: 120},
		},
		{
			name: "a policy on failed inspections blocks even where failing open",
			change: func(in *Input) {
				failed(in)
				in.FailOpen = true
				in.Policies = Set{{Name: "uninspectable", Conditions: Conditions{InspectionFailed: true, Repositories: []string{"docker.io/**"}}, Action: ActionFail}}
			},
			want: Verdict{Result: ResultQuarantine, Reason: "uninspectable", Matches: []Match{match("uninspectable", ActionFail)}, Components: 120},
		},
		{
			name: "a policy on failed inspections names the reason",
			change: func(in *Input) {
				failed(in)
				in.Policies = Set{{Name: "uninspectable", Conditions: Conditions{InspectionFailed: true}, Action: ActionFail}}
			},
			want: Verdict{Result: ResultInspectionFailed, Reason: "uninspectable", Matches: []Match{match("uninspectable", ActionFail)}, Components: 120},
		},

		// Images cached before the firewall.
		{
			name:     "cached before the firewall is audited, not quarantined",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.CachedBeforeFirewall = true },
			want:     Verdict{Result: ResultAudit, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, CachedBeforeFirewall: true, Components: 120, Findings: 1},
		},
		{
			name:   "cached before the firewall is served when inspection fails",
			change: func(in *Input) { failed(in); in.CachedBeforeFirewall = true },
			want:   Verdict{Result: ResultAudit, Reason: ReasonInspectionFailed, CachedBeforeFirewall: true, Components: 120},
		},
		{
			name:   "cached before the firewall and clean is a plain allow",
			change: func(in *Input) { in.CachedBeforeFirewall = true },
			want:   Verdict{Result: ResultAllow, Components: 120},
		},

		// Waivers.
		{
			name:     "a waiver without expiry allows",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Waivers = []Waiver{waiver} },
			want:     Verdict{Result: ResultAllow, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Waiver: &waiver, Components: 120, Findings: 1},
		},
		{
			name:     "a waiver before its expiry allows",
			findings: []inventory.Finding{malware},
			change: func(in *Input) {
				in.Waivers = []Waiver{{Digest: imageID, Expires: now.Add(time.Second)}}
			},
			want: Verdict{Result: ResultAllow, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Waiver: &Waiver{Digest: imageID, Expires: now.Add(time.Second)}, Components: 120, Findings: 1},
		},
		{
			name:     "a waiver at its expiry no longer applies",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Waivers = []Waiver{{Digest: imageID, Expires: now}} },
			want:     Verdict{Result: ResultQuarantine, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},
		{
			name:     "a waiver for another digest does not apply",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Waivers = []Waiver{{Digest: imageID + "0"}} },
			want:     Verdict{Result: ResultQuarantine, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},
		{
			name:     "an empty waiver does not release an image without digest",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Digest = ""; in.Waivers = []Waiver{{}} },
			want:     Verdict{Result: ResultQuarantine, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Components: 120, Findings: 1},
		},
		{
			name:     "a waiver leaves an audit an audit",
			findings: []inventory.Finding{highFixable},
			change:   func(in *Input) { in.Waivers = []Waiver{waiver} },
			want:     Verdict{Result: ResultAudit, Reason: "fixable", Matches: []Match{match("fixable", ActionWarn, highFixable)}, Components: 120, Findings: 1},
		},
		{
			name:   "a waiver releases a failed inspection",
			change: func(in *Input) { failed(in); in.Waivers = []Waiver{waiver} },
			want:   Verdict{Result: ResultAllow, Reason: ReasonInspectionFailed, Waiver: &waiver, Components: 120},
		},
		{
			name:     "a waiver wins over being cached before the firewall",
			findings: []inventory.Finding{malware},
			change:   func(in *Input) { in.Waivers = []Waiver{waiver}; in.CachedBeforeFirewall = true },
			want:     Verdict{Result: ResultAllow, Reason: "malware", Matches: []Match{match("malware", ActionFail, malware)}, Waiver: &waiver, Components: 120, Findings: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(input(tt.findings, tt.change))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Decide (-got +want):\n%s", diff)
			}
		})
	}
}

func TestResultBlocks(t *testing.T) {
	tests := []struct {
		r    Result
		want bool
	}{
		{ResultAllow, false},
		{ResultAudit, false},
		{ResultQuarantine, true},
		{ResultInspectionFailed, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.r), func(t *testing.T) {
			if got := tt.r.Blocks(); got != tt.want {
				t.Errorf("%s.Blocks() = %v, want %v", tt.r, got, tt.want)
			}
		})
	}
}
