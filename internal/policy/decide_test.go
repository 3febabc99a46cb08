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

// verdict is the Verdict an input from input gets: its 120 components and
// n findings counted.
func verdict(r Result, reason string, n int, ms ...Match) Verdict {
	return Verdict{Result: r, Reason: reason, Matches: ms, Components: 120, Findings: n}
}

func waived(v Verdict, w Waiver) Verdict {
	v.Waiver = &w
	return v
}

func cachedBefore(v Verdict) Verdict {
	v.CachedBeforeFirewall = true
	return v
}

func TestDecide(t *testing.T) {
	var (
		bomb    = errors.New("read layer: decompression bomb")
		failed  = func(in *Input) { in.InspectionErr = bomb }
		waiver  = Waiver{Digest: imageID, Reason: "vendor image, fix scheduled"}
		mal     = []inventory.Finding{malware}
		onMal   = match("malware", ActionFail, malware)
		blocked = verdict(ResultQuarantine, "malware", 1, onMal)
	)
	tests := []struct {
		name     string
		findings []inventory.Finding
		change   func(*Input)
		want     Verdict
	}{
		// Modes.
		{
			name:     "off allows without looking",
			findings: mal,
			change:   func(in *Input) { in.Mode = ModeOff },
			want:     verdict(ResultAllow, "", 1),
		},
		{
			name:     "audit serves and records",
			findings: mal,
			change:   func(in *Input) { in.Mode = ModeAudit },
			want:     verdict(ResultAudit, "malware", 1, onMal),
		},
		{
			name:     "quarantine blocks",
			findings: mal,
			want:     blocked,
		},
		{
			name:     "an empty mode fails closed as quarantine",
			findings: mal,
			change:   func(in *Input) { in.Mode = "" },
			want:     blocked,
		},

		// Actions and reasons.
		{
			name:     "warn audits in quarantine mode",
			findings: []inventory.Finding{highFixable},
			want: verdict(ResultAudit, "fixable", 1,
				match("fixable", ActionWarn, highFixable)),
		},
		{
			name:     "none is recorded and allows",
			findings: []inventory.Finding{lowOpen},
			want: verdict(ResultAllow, "", 1,
				match("trial", ActionNone, lowOpen)),
		},
		{
			name: "nothing fires",
			want: verdict(ResultAllow, "", 0),
		},
		{
			name:     "the first fail policy in policy order names the reason",
			findings: []inventory.Finding{criticalOpen, highFixable, malware},
			want: verdict(ResultQuarantine, "malware", 3,
				onMal,
				match("critical", ActionFail, criticalOpen),
				match("fixable", ActionWarn, highFixable)),
		},
		{
			name:     "a fail policy names the audit reason before a warn one",
			findings: []inventory.Finding{highFixable, criticalOpen},
			change: func(in *Input) {
				in.Mode = ModeAudit
				in.Policies = Set{testPolicies[2], testPolicies[1]}
			},
			want: verdict(ResultAudit, "critical", 2,
				match("fixable", ActionWarn, highFixable),
				match("critical", ActionFail, criticalOpen)),
		},
		{
			name:     "an unknown action counts as fail",
			findings: []inventory.Finding{highFixable},
			change: func(in *Input) {
				in.Policies = Set{{Name: "typo", Conditions: Conditions{Fixable: true}, Action: "block"}}
			},
			want: verdict(ResultQuarantine, "typo", 1,
				match("typo", "block", highFixable)),
		},

		{
			name:     "a name unfit for clients is not their reason",
			findings: []inventory.Finding{highFixable},
			change: func(in *Input) {
				in.Policies = Set{{Name: "CVE-2024-0002\r\nX: y", Conditions: Conditions{Fixable: true}, Action: ActionFail}}
			},
			want: verdict(ResultQuarantine, ReasonUnnamed, 1,
				match("CVE-2024-0002\r\nX: y", ActionFail, highFixable)),
		},

		// Failed inspections.
		{
			name:     "inspection failed fails closed and ignores findings",
			findings: mal,
			change:   failed,
			want:     verdict(ResultInspectionFailed, ReasonInspectionFailed, 0),
		},
		{
			name:   "inspection failed fails open where set",
			change: func(in *Input) { failed(in); in.FailOpen = true },
			want:   verdict(ResultAudit, ReasonInspectionFailed, 0),
		},
		{
			name:   "inspection failed in audit mode is served",
			change: func(in *Input) { failed(in); in.Mode = ModeAudit },
			want:   verdict(ResultAudit, ReasonInspectionFailed, 0),
		},
		{
			name:   "inspection failed in off mode is served",
			change: func(in *Input) { failed(in); in.Mode = ModeOff },
			want:   verdict(ResultAllow, "", 0),
		},
		{
			name: "a policy on failed inspections blocks even where failing open",
			change: func(in *Input) {
				failed(in)
				in.FailOpen = true
				in.Policies = Set{{
					Name:       "uninspectable",
					Conditions: Conditions{InspectionFailed: true, Repositories: []string{"docker.io/**"}},
					Action:     ActionFail,
				}}
			},
			want: verdict(ResultQuarantine, "uninspectable", 0,
				match("uninspectable", ActionFail)),
		},
		{
			name: "a policy on failed inspections names the reason",
			change: func(in *Input) {
				failed(in)
				in.Policies = Set{{Name: "uninspectable", Conditions: Conditions{InspectionFailed: true}, Action: ActionFail}}
			},
			want: verdict(ResultInspectionFailed, "uninspectable", 0,
				match("uninspectable", ActionFail)),
		},

		// Images cached before the firewall.
		{
			name:     "cached before the firewall is audited, not quarantined",
			findings: mal,
			change:   func(in *Input) { in.CachedBeforeFirewall = true },
			want:     cachedBefore(verdict(ResultAudit, "malware", 1, onMal)),
		},
		{
			name:   "cached before the firewall is served when inspection fails",
			change: func(in *Input) { failed(in); in.CachedBeforeFirewall = true },
			want:   cachedBefore(verdict(ResultAudit, ReasonInspectionFailed, 0)),
		},
		{
			name:   "cached before the firewall and clean is a plain allow",
			change: func(in *Input) { in.CachedBeforeFirewall = true },
			want:   verdict(ResultAllow, "", 0),
		},

		// Waivers.
		{
			name:     "a waiver without expiry allows",
			findings: mal,
			change:   func(in *Input) { in.Waivers = []Waiver{waiver} },
			want:     waived(verdict(ResultAllow, "malware", 1, onMal), waiver),
		},
		{
			name:     "a waiver before its expiry allows",
			findings: mal,
			change: func(in *Input) {
				in.Waivers = []Waiver{{Digest: imageID, Expires: now.Add(time.Second)}}
			},
			want: waived(verdict(ResultAllow, "malware", 1, onMal),
				Waiver{Digest: imageID, Expires: now.Add(time.Second)}),
		},
		{
			name:     "a waiver at its expiry no longer applies",
			findings: mal,
			change:   func(in *Input) { in.Waivers = []Waiver{{Digest: imageID, Expires: now}} },
			want:     blocked,
		},
		{
			name:     "a waiver for another digest does not apply",
			findings: mal,
			change:   func(in *Input) { in.Waivers = []Waiver{{Digest: imageID + "0"}} },
			want:     blocked,
		},
		{
			name:     "an empty waiver does not release an image without digest",
			findings: mal,
			change:   func(in *Input) { in.Digest = ""; in.Waivers = []Waiver{{}} },
			want:     blocked,
		},
		{
			name:     "a waiver leaves an audit an audit",
			findings: []inventory.Finding{highFixable},
			change:   func(in *Input) { in.Waivers = []Waiver{waiver} },
			want: verdict(ResultAudit, "fixable", 1,
				match("fixable", ActionWarn, highFixable)),
		},
		{
			name:   "a waiver releases a failed inspection",
			change: func(in *Input) { failed(in); in.Waivers = []Waiver{waiver} },
			want:   waived(verdict(ResultAllow, ReasonInspectionFailed, 0), waiver),
		},
		{
			name:     "a waiver wins over being cached before the firewall",
			findings: mal,
			change:   func(in *Input) { in.Waivers = []Waiver{waiver}; in.CachedBeforeFirewall = true },
			want:     waived(verdict(ResultAllow, "malware", 1, onMal), waiver),
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
