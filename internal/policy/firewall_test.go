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

func TestFirewallWithMode(t *testing.T) {
	f := Firewall{
		Mode: ModeQuarantine,
		Repositories: []RepositoryRule{
			{Match: "docker.io/library/*", Mode: ModeAudit, FailOpen: true},
			{Match: "ghcr.io/**"},
		},
	}
	got := f.WithMode(ModeOff)
	for _, repo := range []string{"docker.io/library/nginx", "ghcr.io/org/app", "quay.io/org/app"} {
		if m := got.For(repo).Mode; m != ModeOff {
			t.Errorf("WithMode(off).For(%q).Mode = %s, want off", repo, m)
		}
	}
	if !got.For("docker.io/library/nginx").FailOpen {
		t.Errorf("WithMode dropped a rule's fail_open")
	}
	if f.Repositories[0].Mode != ModeAudit {
		t.Errorf("WithMode changed the original's rules: mode %s, want audit", f.Repositories[0].Mode)
	}
}
