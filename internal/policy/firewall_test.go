package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFirewallFor(t *testing.T) {
	f := Firewall{
		Mode:       ModeQuarantine,
		FailOpen:   true,
		ShowReason: true,
		Repositories: []RepositoryRule{
			{Match: "docker.io/library/*", Mode: ModeAudit},
			{Match: "docker.io/**", Mode: ModeOff},
			{Match: "ghcr.io/**", ShowReason: true},
		},
	}
	tests := []struct {
		repo string
		want Settings
	}{
		{"docker.io/library/nginx", Settings{Mode: ModeAudit}},
		{"docker.io/bitnami/nginx", Settings{Mode: ModeOff}},
		{"ghcr.io/org/app", Settings{Mode: ModeQuarantine, ShowReason: true}},
		{"quay.io/org/app", Settings{Mode: ModeQuarantine, FailOpen: true, ShowReason: true}},
	}
	for _, tt := range tests {
		t.Run(tt.repo, func(t *testing.T) {
			if diff := cmp.Diff(f.For(tt.repo), tt.want); diff != "" {
				t.Errorf("For(%q) (-got +want):\n%s", tt.repo, diff)
			}
		})
	}
}
