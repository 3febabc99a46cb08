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
		{
			name:     "one condition",
			c:        Conditions{Malware: true},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{malware},
		},
		{
			name:     "both on the same finding",
			c:        Conditions{MinScore: 7, Fixable: true},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{highFixable},
		},
		{
			name:     "each on a different finding is not enough",
			c:        Conditions{Malware: true, MinScore: 9},
			im:       im,
			findings: all,
			fires:    false,
			hits:     nil,
		},
		{
			name:     "except status leaves out",
			c:        Conditions{MinScore: 9, ExceptStatus: []string{"will-not-fix"}},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{criticalOpen},
		},
		{
			name:     "status and severity",
			c:        Conditions{Status: []string{"open"}, Severity: "high"},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{criticalOpen, unscoredHigh},
		},
		{
			name:     "unknown severity word matches nothing",
			c:        Conditions{Severity: "extreme"},
			im:       im,
			findings: all,
		},
		{
			name:     "id through alias",
			c:        Conditions{IDs: []string{"CVE-2024-0002"}},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{highFixable},
		},
		{
			name:     "package",
			c:        Conditions{Packages: []Package{{Ecosystem: "Debian", Name: "zlib"}}},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{criticalWontFix},
		},
		{
			name: "no findings",
			c:    Conditions{Malware: true},
			im:   im,
		},
		{
			name:     "image condition alone fires without findings",
			c:        Conditions{OlderThanDays: 365},
			im:       im,
			findings: nil,
			fires:    true,
			hits:     nil,
		},
		{
			name:     "image condition fails",
			c:        Conditions{OlderThanDays: 500, Malware: true},
			im:       im,
			findings: all,
		},
		{
			name:     "image and finding conditions",
			c:        Conditions{OlderThanDays: 365, Malware: true},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{malware},
		},
		{
			name:     "repository matches",
			c:        Conditions{Repositories: []string{"docker.io/library/*"}, Malware: true},
			im:       im,
			findings: all,
			fires:    true,
			hits:     []inventory.Finding{malware},
		},
		{
			name:     "repository does not match",
			c:        Conditions{Repositories: []string{"ghcr.io/**"}, Malware: true},
			im:       im,
			findings: all,
			fires:    false,
			hits:     nil,
		},
		{
			name:     "repository allowed",
			c:        Conditions{ExceptRepositories: []string{"docker.io/library/*"}},
			im:       im,
			findings: nil,
			fires:    false,
			hits:     nil,
		},
		{
			name:     "repository not allowed",
			c:        Conditions{ExceptRepositories: []string{"docker.io/trusted/*"}},
			im:       im,
			findings: nil,
			fires:    true,
			hits:     nil,
		},
		{
			name:     "inspection failed",
			c:        Conditions{InspectionFailed: true},
			im:       image{inspected: errors.New("bomb")},
			findings: nil,
			fires:    true,
			hits:     nil,
		},
		{
			name:     "inspection finished",
			c:        Conditions{InspectionFailed: true},
			im:       im,
			findings: all,
		},
		{
			name:     "no condition never fires",
			c:        Conditions{},
			im:       im,
			findings: all,
		},
		{
			name:     "negative score sets no test",
			c:        Conditions{MinScore: -1},
			im:       im,
			findings: all,
		},
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
