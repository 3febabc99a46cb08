package policy

import (
	"math"
	"strings"
	"testing"
)

func TestSetValidate(t *testing.T) {
	valid := func() Set {
		return Set{
			{Name: "malware", Conditions: Conditions{Malware: true}, Action: ActionFail},
			{Name: "old-images", Conditions: Conditions{OlderThanDays: 365}, Action: ActionWarn},
			{Name: "cvss_9.0", Conditions: Conditions{MinScore: 9}, Action: ActionNone},
		}
	}
	tests := []struct {
		name   string
		change func(Set)
		want   string // the whole message; empty for none
	}{
		{"valid", func(Set) {}, ""},
		{"empty name", func(s Set) { s[1].Name = "" }, "policies[1].name: must not be empty"},
		{"name with a space", func(s Set) { s[1].Name = "old images" }, `policies[1].name: "old images" must be at most 64 lower-case letters, digits, and single . _ or - between them, since clients may be shown it`},
		{"upper-case name", func(s Set) { s[0].Name = "Malware" }, `policies[0].name: "Malware" must be at most 64`},
		{"long name", func(s Set) { s[0].Name = strings.Repeat("a", 65) }, "policies[0].name: "},
		{"duplicate name", func(s Set) { s[2].Name = "malware" }, `policies[2].name: "malware" is already used by policies[0]`},
		{"unknown action", func(s Set) { s[0].Action = "block" }, `policies[0].action: must be fail, warn or none, not "block"`},
		{"missing action", func(s Set) { s[0].Action = "" }, `policies[0].action: must be fail, warn or none, not ""`},
		{"no conditions", func(s Set) { s[1].Conditions = Conditions{} }, "policies[1].conditions: at least one condition must be set"},
		{"score above 10", func(s Set) { s[2].Conditions.MinScore = 11 }, "policies[2].conditions.min_score: must be between 0 and 10, not 11"},
		{"negative score", func(s Set) { s[0].Conditions.MinScore = -1 }, "policies[0].conditions.min_score: must be between 0 and 10, not -1"},
		{"score not a number", func(s Set) { s[0].Conditions.MinScore = math.NaN() }, "policies[0].conditions.min_score: must be between 0 and 10, not NaN"},
		{"unknown severity", func(s Set) { s[0].Conditions.Severity = "severe" }, `policies[0].conditions.severity: must be low, medium, high or critical, not "severe"`},
		{"unknown status", func(s Set) { s[0].Conditions.Status = []string{"open", "wontfix"} }, `policies[0].conditions.status[1]: must be one of fixed, open, no-dsa, ignored, unimportant, will-not-fix, not "wontfix"`},
		{"unknown except status", func(s Set) { s[0].Conditions.ExceptStatus = []string{"minor"} }, `policies[0].conditions.except_status[0]: must be one of`},
		{"status both in and out", func(s Set) {
			s[0].Conditions.Status = []string{"open"}
			s[0].Conditions.ExceptStatus = []string{"no-dsa", "open"}
		}, `policies[0].conditions.except_status[1]: "open" is also in status, so no finding can match`},
		{"empty id", func(s Set) { s[0].Conditions.IDs = []string{"CVE-2024-1", ""} }, "policies[0].conditions.ids[1]: must not be empty"},
		{"package without name", func(s Set) { s[0].Conditions.Packages = []Package{{Ecosystem: "npm"}} }, "policies[0].conditions.packages[0].name: must not be empty"},
		{"negative age", func(s Set) { s[1].Conditions.OlderThanDays = -3 }, "policies[1].conditions.older_than_days: must not be negative"},
		{"bad repository pattern", func(s Set) { s[0].Conditions.Repositories = []string{"docker.io/[a-"} }, `policies[0].conditions.repositories[0]: "docker.io/[a-" is not a valid pattern (see path.Match)`},
		{"empty segment in except repositories", func(s Set) { s[0].Conditions.ExceptRepositories = []string{"docker.io//x"} }, `policies[0].conditions.except_repositories[0]: "docker.io//x" must have no empty segment`},
		{"empty repository pattern", func(s Set) { s[0].Conditions.Repositories = []string{""} }, `policies[0].conditions.repositories[0]: "" must not be empty`},
		{"inspection failed with findings", func(s Set) { s[0].Conditions.InspectionFailed = true }, "policies[0].conditions.inspection_failed: cannot be combined with finding conditions: a failed inspection has no findings"},
		{"inspection failed with image conditions", func(s Set) {
			s[1].Conditions.InspectionFailed = true
			s[1].Conditions.Repositories = []string{"ghcr.io/**"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(s)
			checkErr(t, s.Validate(), tt.want)
		})
	}
}

func TestSetValidateReportsEveryProblem(t *testing.T) {
	s := Set{
		{Name: "", Action: "x"},
		{Name: "b", Conditions: Conditions{MinScore: 12}, Action: ActionFail},
	}
	want := strings.Join([]string{
		"policies[0].name: must not be empty",
		`policies[0].action: must be fail, warn or none, not "x"`,
		"policies[0].conditions: at least one condition must be set",
		"policies[1].conditions.min_score: must be between 0 and 10, not 12",
	}, "\n")
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() =\n%v\nwant\n%s", err, want)
	}
}

func TestFirewallValidate(t *testing.T) {
	valid := func() Firewall {
		f := DefaultFirewall()
		f.Repositories = []RepositoryRule{
			{Match: "docker.io/library/*", Mode: ModeAudit},
			{Match: "ghcr.io/**", FailOpen: true},
		}
		return f
	}
	tests := []struct {
		name   string
		change func(*Firewall)
		want   string
	}{
		{"valid", func(*Firewall) {}, ""},
		{"no mode", func(f *Firewall) { f.Mode = "" }, `firewall.mode: must be off, audit or quarantine, not ""`},
		{"unknown mode", func(f *Firewall) { f.Mode = "enforce" }, `firewall.mode: must be off, audit or quarantine, not "enforce"`},
		{"unknown rule mode", func(f *Firewall) { f.Repositories[1].Mode = "block" }, `firewall.repositories[1].mode: must be off, audit or quarantine, or left out for firewall.mode, not "block"`},
		{"empty match", func(f *Firewall) { f.Repositories[0].Match = "" }, `firewall.repositories[0].match: "" must not be empty`},
		{"bad match", func(f *Firewall) { f.Repositories[0].Match = "docker.io/\\" }, `firewall.repositories[0].match: "docker.io/\\" is not a valid pattern (see path.Match)`},
		{"duplicate match", func(f *Firewall) { f.Repositories[1].Match = "docker.io/library/*" }, `firewall.repositories[1].match: "docker.io/library/*" is already used by firewall.repositories[0], so this rule never applies`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.change(&f)
			checkErr(t, f.Validate(), tt.want)
		})
	}
}

// checkErr checks that err is nil when want is empty, and otherwise that
// its message starts with want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("Validate() = %v, want nil", err)
	case want != "" && err == nil:
		t.Errorf("Validate() = nil, want %q", want)
	case want != "" && !strings.HasPrefix(err.Error(), want):
		t.Errorf("Validate() = %q, want it to start with %q", err, want)
	}
}
