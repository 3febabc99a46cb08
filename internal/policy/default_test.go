package policy

import (
	"testing"

	"breakwater/internal/inventory"
)

func TestDefaultsValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	if err := DefaultFirewall().Validate(); err != nil {
		t.Errorf("DefaultFirewall().Validate() = %v", err)
	}
}

// TestDefault pins the shipped start: quarantine malware and CVSS 8 or more,
// audit what has a fix, fail closed.
func TestDefault(t *testing.T) {
	scored := func(s float64, status, fixed string) inventory.Finding {
		return inventory.Finding{ID: "CVE-2024-9", Score: s, Scored: true, Status: status, FixedVersion: fixed}
	}
	tests := []struct {
		name     string
		findings []inventory.Finding
		failed   bool
		want     Result
		reason   string
	}{
		{
			name:     "malware",
			findings: []inventory.Finding{malware},
			want:     ResultQuarantine,
			reason:   "malware",
		},
		{
			name:     "cvss 8",
			findings: []inventory.Finding{scored(8.0, "", "")},
			want:     ResultQuarantine,
			reason:   "cvss-8",
		},
		{
			name:     "cvss 9.8 open",
			findings: []inventory.Finding{scored(9.8, inventory.StatusOpen, "")},
			failed:   false,
			want:     ResultQuarantine,
			reason:   "cvss-8",
		},
		{
			name:     "cvss 9.8 fixed upstream",
			findings: []inventory.Finding{scored(9.8, inventory.StatusFixed, "1.2")},
			failed:   false,
			want:     ResultQuarantine,
			reason:   "cvss-8",
		},
		{
			name:     "cvss 7.9 with a fix",
			findings: []inventory.Finding{scored(7.9, "", "1.2")},
			failed:   false,
			want:     ResultAudit,
			reason:   "fixable",
		},
		{
			name:     "cvss 7.9 without a fix",
			findings: []inventory.Finding{scored(7.9, inventory.StatusOpen, "")},
			failed:   false,
			want:     ResultAllow,
			reason:   "",
		},
		{
			name:     "cvss 9.8 the vendor will not fix",
			findings: []inventory.Finding{scored(9.8, inventory.StatusWillNotFix, "")},
			failed:   false,
			want:     ResultAllow,
			reason:   "",
		},
		{
			name:     "cvss 9.8 no-dsa with a fix",
			findings: []inventory.Finding{scored(9.8, inventory.StatusNoDSA, "1.2")},
			failed:   false,
			want:     ResultAudit,
			reason:   "fixable",
		},
		{
			name:     "cvss 9.8 unimportant",
			findings: []inventory.Finding{scored(9.8, inventory.StatusUnimportant, "")},
			failed:   false,
			want:     ResultAllow,
			reason:   "",
		},
		{
			name:     "cvss 9.8 ignored",
			findings: []inventory.Finding{scored(9.8, inventory.StatusIgnored, "")},
			failed:   false,
			want:     ResultAllow,
			reason:   "",
		},
		{
			name:     "unscored critical has no score to compare",
			findings: []inventory.Finding{{ID: "CVE-2024-8", Severity: "critical"}},
			failed:   false,
			want:     ResultAllow,
			reason:   "",
		},
		{
			name: "no findings",
			want: ResultAllow,
		},
		{
			name:   "inspection failed",
			failed: true,
			want:   ResultInspectionFailed,
			reason: ReasonInspectionFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := "docker.io/library/debian"
			s := DefaultFirewall().For(repo)
			in := Input{
				Digest: imageID, Repository: repo, Mode: s.Mode, FailOpen: s.FailOpen,
				Policies: Default(), Findings: tt.findings, Now: now,
			}
			if tt.failed {
				in.InspectionErr = errFailed
			}
			v := Decide(in)
			if v.Result != tt.want || v.Reason != tt.reason {
				t.Errorf("Decide = %s (%q), want %s (%q)", v.Result, v.Reason, tt.want, tt.reason)
			}
		})
	}
}
