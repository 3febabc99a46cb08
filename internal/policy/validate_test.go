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
		want   string // the whole message or its start; empty for none
	}{
		{
			name:   "valid",
			change: func(Set) {},
			want:   "",
		},
		{
			name:   "empty name",
			change: func(s Set) { s[1].Name = "" },
			want:   "policies[1].name: must not be empty",
		},
		{
			name:   "name with a space",
			change: func(s Set) { s[1].Name = "old images" },
			want:   `policies[1].name: "old images" must be lower-case letters and digits with single . _ or - between, at most 64 long`,
		},
		{
			name:   "upper-case name",
			change: func(s Set) { s[0].Name = "Malware" },
			want:   `policies[0].name: "Malware" must be lower-case`,
		},
		{
			name:   "long name",
			change: func(s Set) { s[0].Name = strings.Repeat("a", 65) },
			want:   `policies[0].name: "aaaa`,
		},
		{
			name:   "duplicate name",
			change: func(s Set) { s[2].Name = "malware" },
			want:   `policies[2].name: "malware" is already used by policies[0]`,
		},
		{
			name:   "unknown action",
			change: func(s Set) { s[0].Action = "block" },
			want:   `policies[0].action: must be fail, warn or none, not "block"`,
		},
		{
			name:   "missing action",
			change: func(s Set) { s[0].Action = "" },
			want:   `policies[0].action: must be fail, warn or none, not ""`,
		},
		{
			name:   "no conditions",
			change: func(s Set) { s[1].Conditions = Conditions{} },
			want:   "policies[1].conditions: at least one condition must be set",
		},
		{
			name:   "score above 10",
			change: func(s Set) { s[2].Conditions.MinScore = 11 },
			want:   "policies[2].conditions.min_score: must be between 0 and 10, not 11",
		},
		{
			name:   "negative score",
			change: func(s Set) { s[0].Conditions.MinScore = -1 },
			want:   "policies[0].conditions.min_score: must be between 0 and 10, not -1",
		},
		{
			name:   "score not a number",
			change: func(s Set) { s[0].Conditions.MinScore = math.NaN() },
			want:   "policies[0].conditions.min_score: must be between 0 and 10, not NaN",
		},
		{
			name:   "unknown severity",
			change: func(s Set) { s[0].Conditions.Severity = "severe" },
			want:   `policies[0].conditions.severity: must be low, medium, high or critical, not "severe"`,
		},
		{
			name:   "unknown status",
			change: func(s Set) { s[0].Conditions.Status = []string{"open", "wontfix"} },
			want:   `policies[0].conditions.status[1]: must be one of fixed, open, no-dsa, ignored, unimportant, will-not-fix, not "wontfix"`,
		},
		{
			name:   "unknown except status",
			change: func(s Set) { s[0].Conditions.ExceptStatus = []string{"minor"} },
			want:   `policies[0].conditions.except_status[0]: must be one of`,
		},
		{
			name: "status both in and out",
			change: func(s Set) {
				s[0].Conditions.Status = []string{"open"}
				s[0].Conditions.ExceptStatus = []string{"no-dsa", "open"}
			},
			want: `policies[0].conditions.except_status[1]: "open" is also in status, so no finding can match`,
		},
		{
			name:   "empty id",
			change: func(s Set) { s[0].Conditions.IDs = []string{"CVE-2024-1", ""} },
			want:   "policies[0].conditions.ids[1]: must not be empty",
		},
		{
			name:   "package without name",
			change: func(s Set) { s[0].Conditions.Packages = []Package{{Ecosystem: "npm"}} },
			want:   "policies[0].conditions.packages[0].name: must not be empty",
		},
		{
			name:   "negative age",
			change: func(s Set) { s[1].Conditions.OlderThanDays = -3 },
			want:   "policies[1].conditions.older_than_days: must not be negative",
		},
		{
			name:   "bad repository pattern",
			change: func(s Set) { s[0].Conditions.Repositories = []string{"docker.io/[a-"} },
			want:   `policies[0].conditions.repositories[0]: "docker.io/[a-" is not a valid pattern (see path.Match)`,
		},
		{
			name:   "empty segment in except repositories",
			change: func(s Set) { s[0].Conditions.ExceptRepositories = []string{"docker.io//x"} },
			want:   `policies[0].conditions.except_repositories[0]: "docker.io//x" must have no empty segment`,
		},
		{
			name:   "empty repository pattern",
			change: func(s Set) { s[0].Conditions.Repositories = []string{""} },
			want:   `policies[0].conditions.repositories[0]: "" must not be empty`,
		},
		{
			name:   "inspection failed with findings",
			change: func(s Set) { s[0].Conditions.InspectionFailed = true },
			want:   "policies[0].conditions.inspection_failed: cannot be combined with finding conditions: a failed inspection has no findings",
		},
		{
			name: "inspection failed with image conditions",
			change: func(s Set) {
				s[1].Conditions.InspectionFailed = true
				s[1].Conditions.Repositories = []string{"ghcr.io/**"}
			},
		},
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
		{
			name:   "valid",
			change: func(*Firewall) {},
		},
		{
			name:   "no mode",
			change: func(f *Firewall) { f.Mode = "" },
			want:   `firewall.mode: must be off, audit or quarantine, not ""`,
		},
		{
			name:   "unknown mode",
			change: func(f *Firewall) { f.Mode = "enforce" },
			want:   `firewall.mode: must be off, audit or quarantine, not "enforce"`,
		},
		{
			name:   "unknown rule mode",
			change: func(f *Firewall) { f.Repositories[1].Mode = "block" },
			want:   `firewall.repositories[1].mode: must be off, audit or quarantine, or left out for firewall.mode, not "block"`,
		},
		{
			name:   "empty match",
			change: func(f *Firewall) { f.Repositories[0].Match = "" },
			want:   `firewall.repositories[0].match: "" must not be empty`,
		},
		{
			name:   "bad match",
			change: func(f *Firewall) { f.Repositories[0].Match = "docker.io/\\" },
			want:   `firewall.repositories[0].match: "docker.io/\\" is not a valid pattern (see path.Match)`,
		},
		{
			name:   "duplicate match",
			change: func(f *Firewall) { f.Repositories[1].Match = "docker.io/library/*" },
			want:   `firewall.repositories[1].match: "docker.io/library/*" is already used by firewall.repositories[0], so this rule never applies`,
		},
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
