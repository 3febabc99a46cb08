package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
)

// TestMatchCombines checks how conditions combine: all must hold, finding
// conditions for one and the same finding. Each condition's own truth table
// is in predicates_test.go.
func TestMatchCombines(t *testing.T) {
	all := []inventory.Finding{malware, criticalOpen, highFixable, criticalWontFix, unscoredHigh, lowOpen}
	im := image{repo: "docker.io/library/app", now: now, created: now.AddDate(0, 0, -400)}
	tests := []struct {
		name     string
		c        Conditions
		im       image
		findings []inventory.Finding
		fires    bool
		hits     []inventory.Finding
	}{
		{"one condition", Conditions{Malware: true}, im, all, true, []inventory.Finding{malware}},
		{"both on the same finding", Conditions{MinScore: 7, Fixable: true}, im, all, true, []inventory.Finding{highFixable}},
		{"each on a different finding is not enough", Conditions{Malware: true, MinScore: 9}, im, all, false, nil},
		{"except status leaves out", Conditions{MinScore: 9, ExceptStatus: []string{"will-not-fix"}}, im, all, true, []inventory.Finding{criticalOpen}},
		{"status and severity", Conditions{Status: []string{"open"}, Severity: "high"}, im, all, true, []inventory.Finding{criticalOpen, unscoredHigh}},
		{"unknown severity word matches nothing", Conditions{Severity: "extreme"}, im, all, false, nil},
		{"id through alias", Conditions{IDs: []string{"CVE-2024-0002"}}, im, all, true, []inventory.Finding{highFixable}},
		{"package", Conditions{Packages: []Package{{Ecosystem: "Debian", Name: "zlib"}}}, im, all, true, []inventory.Finding{criticalWontFix}},
		{"no findings", Conditions{Malware: true}, im, nil, false, nil},
		{"image condition alone fires without findings", Conditions{OlderThanDays: 365}, im, nil, true, nil},
		{"image condition fails", Conditions{OlderThanDays: 500, Malware: true}, im, all, false, nil},
		{"image and finding conditions", Conditions{OlderThanDays: 365, Malware: true}, im, all, true, []inventory.Finding{malware}},
		{"repository matches", Conditions{Repositories: []string{"docker.io/library/*"}, Malware: true}, im, all, true, []inventory.Finding{malware}},
		{"repository does not match", Conditions{Repositories: []string{"ghcr.io/**"}, Malware: true}, im, all, false, nil},
		{"repository allowed", Conditions{ExceptRepositories: []string{"docker.io/library/*"}}, im, nil, false, nil},
		{"repository not allowed", Conditions{ExceptRepositories: []string{"docker.io/trusted/*"}}, im, nil, true, nil},
		{"inspection failed", Conditions{InspectionFailed: true}, image{inspected: errors.New("bomb")}, nil, true, nil},
		{"inspection finished", Conditions{InspectionFailed: true}, im, all, false, nil},
		{"no condition never fires", Conditions{}, im, all, false, nil},
		{"negative score sets no test", Conditions{MinScore: -1}, im, all, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Name: "p", Conditions: tt.c, Action: ActionFail}
			fires, hits := p.match(tt.im, tt.findings)
			if fires != tt.fires {
				t.Errorf("fires = %v, want %v", fires, tt.fires)
			}
			if diff := cmp.Diff(hits, tt.hits); diff != "" {
				t.Errorf("evidence (-got +want):\n%s", diff)
			}
		})
	}
}
