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
		{"malware", []inventory.Finding{malware}, false, ResultQuarantine, "malware"},
		{"cvss 8", []inventory.Finding{scored(8.0, "", "")}, false, ResultQuarantine, "cvss-8"},
		{"cvss 9.8 open", []inventory.Finding{scored(9.8, inventory.StatusOpen, "")}, false, ResultQuarantine, "cvss-8"},
		{"cvss 9.8 fixed upstream", []inventory.Finding{scored(9.8, inventory.StatusFixed, "1.2")}, false, ResultQuarantine, "cvss-8"},
		{"cvss 7.9 with a fix", []inventory.Finding{scored(7.9, "", "1.2")}, false, ResultAudit, "fixable"},
		{"cvss 7.9 without a fix", []inventory.Finding{scored(7.9, inventory.StatusOpen, "")}, false, ResultAllow, ""},
		{"cvss 9.8 the vendor will not fix", []inventory.Finding{scored(9.8, inventory.StatusWillNotFix, "")}, false, ResultAllow, ""},
		{"cvss 9.8 no-dsa with a fix", []inventory.Finding{scored(9.8, inventory.StatusNoDSA, "1.2")}, false, ResultAudit, "fixable"},
		{"cvss 9.8 unimportant", []inventory.Finding{scored(9.8, inventory.StatusUnimportant, "")}, false, ResultAllow, ""},
		{"cvss 9.8 ignored", []inventory.Finding{scored(9.8, inventory.StatusIgnored, "")}, false, ResultAllow, ""},
		{"unscored critical has no score to compare", []inventory.Finding{{ID: "CVE-2024-8", Severity: "critical"}}, false, ResultAllow, ""},
		{"no findings", nil, false, ResultAllow, ""},
		{"inspection failed", nil, true, ResultInspectionFailed, ReasonInspectionFailed},
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
