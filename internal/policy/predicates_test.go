package policy

import (
	"errors"
	"testing"
	"time"

	"breakwater/internal/inventory"
)

// Each predicate has one table here; Decide's tests rely on them being
// right and test only how conditions combine.

func TestIsMalware(t *testing.T) {
	tests := []struct {
		name string
		f    inventory.Finding
		want bool
	}{
		{"malicious package", inventory.Finding{ID: "MAL-2024-1", Malware: true}, true},
		{"vulnerability", inventory.Finding{ID: "CVE-2024-1", Score: 10, Scored: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isMalware(tt.f); got != tt.want {
				t.Errorf("isMalware = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScoreAtLeast(t *testing.T) {
	tests := []struct {
		name string
		f    inventory.Finding
		min  float64
		want bool
	}{
		{"above", inventory.Finding{Score: 9.8, Scored: true}, 8, true},
		{"equal", inventory.Finding{Score: 8, Scored: true}, 8, true},
		{"below", inventory.Finding{Score: 7.9, Scored: true}, 8, false},
		{"unscored is not zero", inventory.Finding{Severity: "critical"}, 0, false},
		{"unscored with a stray score", inventory.Finding{Score: 9}, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scoreAtLeast(tt.f, tt.min); got != tt.want {
				t.Errorf("scoreAtLeast(%v, %v) = %v, want %v", tt.f.Score, tt.min, got, tt.want)
			}
		})
	}
}

func TestSeverityAtLeast(t *testing.T) {
	scored := func(s float64) inventory.Finding { return inventory.Finding{Score: s, Scored: true} }
	word := func(w string) inventory.Finding { return inventory.Finding{Severity: w} }
	tests := []struct {
		name string
		f    inventory.Finding
		want level
		ok   bool
	}{
		{"critical score", scored(9.0), levelCritical, true},
		{"high score is not critical", scored(8.9), levelCritical, false},
		{"high score", scored(7.0), levelHigh, true},
		{"medium score is not high", scored(6.9), levelHigh, false},
		{"medium score", scored(4.0), levelMedium, true},
		{"low score", scored(0.1), levelLow, true},
		{"zero score has no level", scored(0), levelLow, false},
		{"score wins over the word", inventory.Finding{Score: 3, Scored: true, Severity: "critical"}, levelHigh, false},
		{"debian urgency high", word("high"), levelHigh, true},
		{"unreviewed urgency", word("medium**"), levelMedium, true},
		{"red hat important", word("Important"), levelHigh, true},
		{"github moderate", word("MODERATE"), levelMedium, true},
		{"moderate is not high", word("moderate"), levelHigh, false},
		{"unimportant has no level", word("unimportant"), levelLow, false},
		{"not yet assigned", word("not yet assigned"), levelLow, false},
		{"ubuntu negligible", word("negligible"), levelLow, false},
		{"no word, no score", inventory.Finding{}, levelLow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := severityAtLeast(tt.f, tt.want); got != tt.ok {
				t.Errorf("severityAtLeast(score %v scored %v word %q, %d) = %v, want %v",
					tt.f.Score, tt.f.Scored, tt.f.Severity, tt.want, got, tt.ok)
			}
		})
	}
}

func TestIsFixable(t *testing.T) {
	tests := []struct {
		name string
		f    inventory.Finding
		want bool
	}{
		{"fixed version known", inventory.Finding{FixedVersion: "3.0.11-1~deb12u2"}, true},
		{"status fixed without a version", inventory.Finding{Status: inventory.StatusFixed}, false},
		{"no fix", inventory.Finding{Status: inventory.StatusOpen}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isFixable(tt.f); got != tt.want {
				t.Errorf("isFixable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStatusIn(t *testing.T) {
	minor := []string{inventory.StatusNoDSA, inventory.StatusUnimportant}
	tests := []struct {
		name   string
		status string
		list   []string
		want   bool
	}{
		{"listed", inventory.StatusNoDSA, minor, true},
		{"not listed", inventory.StatusOpen, minor, false},
		{"no status is in no list", "", minor, false},
		{"no status and an empty entry", "", []string{""}, false},
		{"empty list", inventory.StatusOpen, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusIn(inventory.Finding{Status: tt.status}, tt.list); got != tt.want {
				t.Errorf("statusIn(%q, %q) = %v, want %v", tt.status, tt.list, got, tt.want)
			}
		})
	}
}

func TestHasID(t *testing.T) {
	f := inventory.Finding{ID: "DSA-5678-1", Aliases: []string{"CVE-2024-3094", "GHSA-abcd-efgh-ijkl"}}
	tests := []struct {
		name string
		ids  []string
		want bool
	}{
		{"id", []string{"DSA-5678-1"}, true},
		{"alias", []string{"CVE-2024-3094"}, true},
		{"case differs", []string{"ghsa-ABCD-efgh-ijkl"}, true},
		{"one of several", []string{"CVE-2000-1", "CVE-2024-3094"}, true},
		{"other id", []string{"CVE-2024-3095"}, false},
		{"prefix only", []string{"CVE-2024"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasID(f, tt.ids); got != tt.want {
				t.Errorf("hasID(%q) = %v, want %v", tt.ids, got, tt.want)
			}
		})
	}
}

func TestInPackages(t *testing.T) {
	libssl := inventory.Finding{Component: inventory.Component{
		Ecosystem: "Debian:12", Name: "libssl3", Version: "3.0.11-1~deb12u1",
		SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u1",
	}}
	scoped := inventory.Finding{Component: inventory.Component{Ecosystem: "npm", Name: "@evil/pkg", Version: "1.0.0"}}
	tests := []struct {
		name string
		f    inventory.Finding
		pkgs []Package
		want bool
	}{
		{"binary name", libssl, []Package{{Ecosystem: "Debian:12", Name: "libssl3"}}, true},
		{"source name", libssl, []Package{{Ecosystem: "Debian:12", Name: "openssl"}}, true},
		{"source name and version", libssl, []Package{{Name: "openssl", Version: "3.0.11-1~deb12u1"}}, true},
		{"distro without release", libssl, []Package{{Ecosystem: "Debian", Name: "openssl"}}, true},
		{"other release", libssl, []Package{{Ecosystem: "Debian:11", Name: "openssl"}}, false},
		{"other ecosystem", libssl, []Package{{Ecosystem: "Alpine", Name: "openssl"}}, false},
		{"ecosystem prefix is not a release", libssl, []Package{{Ecosystem: "Deb", Name: "openssl"}}, false},
		{"any ecosystem", libssl, []Package{{Name: "libssl3"}}, true},
		{"other version", libssl, []Package{{Name: "libssl3", Version: "3.0.13-1~deb12u1"}}, false},
		{"other name", libssl, []Package{{Name: "libssl1.1"}}, false},
		{"scoped npm name", scoped, []Package{{Ecosystem: "npm", Name: "@evil/pkg", Version: "1.0.0"}}, true},
		{"one of several", scoped, []Package{{Name: "x"}, {Ecosystem: "npm", Name: "@evil/pkg"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inPackages(tt.f, tt.pkgs); got != tt.want {
				t.Errorf("inPackages(%+v, %+v) = %v, want %v", tt.f.Component, tt.pkgs, got, tt.want)
			}
		})
	}
}

func TestOlderThan(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		created time.Time
		days    int
		want    bool
	}{
		{"older", now.Add(-31 * day), 30, true},
		{"exactly the age is not older", now.Add(-30 * day), 30, false},
		{"a second past", now.Add(-30*day - time.Second), 30, true},
		{"younger", now.Add(-29 * day), 30, false},
		{"unknown creation time", time.Time{}, 30, false},
		{"created in the future", now.Add(day), 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := olderThan(tt.created, now, tt.days); got != tt.want {
				t.Errorf("olderThan(%v, %v, %d) = %v, want %v", tt.created, now, tt.days, got, tt.want)
			}
		})
	}
}

func TestRepoMatches(t *testing.T) {
	tests := []struct {
		pattern string
		repo    string
		want    bool
	}{
		{"docker.io/library/*", "docker.io/library/nginx", true},
		{"docker.io/library/*", "docker.io/library/nginx/extra", false},
		{"docker.io/library/*", "docker.io/bitnami/nginx", false},
		{"docker.io/library/nginx", "docker.io/library/nginx", true},
		{"docker.io/library/nginx", "docker.io/library/nginx2", false},
		{"ghcr.io/**", "ghcr.io/org/team/app", true},
		{"ghcr.io/**", "ghcr.io", true},
		{"ghcr.io/**", "ghcr.io.evil.example/org/app", false},
		{"**/app", "quay.io/org/app", true},
		{"**/app", "quay.io/org/app2", false},
		{"docker.io/**/nginx", "docker.io/nginx", true},
		{"docker.io/**/**/nginx", "docker.io/a/b/nginx", true},
		{"**", "anything/at/all", true},
		{"*.io/library/*", "docker.io/library/alpine", true},
		{"docker.io/library/[a-m]*", "docker.io/library/alpine", true},
		{"docker.io/library/[a-m]*", "docker.io/library/nginx", false},
		{"docker.io/library/[", "docker.io/library/[", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.repo, func(t *testing.T) {
			if got := repoMatches(tt.repo, []string{tt.pattern}); got != tt.want {
				t.Errorf("repoMatches(%q, %q) = %v, want %v", tt.repo, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestInspectionFailed(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"error", errors.New("read layer: decompression bomb"), true},
		{"finished", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inspectionFailed(tt.err); got != tt.want {
				t.Errorf("inspectionFailed(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
