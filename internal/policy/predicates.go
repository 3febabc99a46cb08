package policy

import (
	"strings"
	"time"

	"breakwater/internal/inventory"
)

// Each condition is tested by exactly one predicate below, and each
// predicate has one table of tests, so a check is never written twice.

// isMalware reports whether f marks malware.
func isMalware(f inventory.Finding) bool {
	return f.Malware
}

// scoreAtLeast reports whether f has a CVSS score of at least min. An
// unscored finding has no score to compare, which is not a score of 0.
func scoreAtLeast(f inventory.Finding, min float64) bool {
	return f.Scored && f.Score >= min
}

// severityAtLeast reports whether f's level is want or above.
func severityAtLeast(f inventory.Finding, want level) bool {
	return levelOf(f) >= want
}

// isFixable reports whether a fixed version of f's component is known.
func isFixable(f inventory.Finding) bool {
	return f.FixedVersion != ""
}

// statusIn reports whether f's vendor status is one of statuses; a finding
// without a status is in no list.
func statusIn(f inventory.Finding, statuses []string) bool {
	for _, s := range statuses {
		if f.Status != "" && f.Status == s {
			return true
		}
	}
	return false
}

// hasID reports whether f's id or one of its aliases is in ids.
func hasID(f inventory.Finding, ids []string) bool {
	for _, id := range ids {
		if strings.EqualFold(f.ID, id) {
			return true
		}
		for _, a := range f.Aliases {
			if strings.EqualFold(a, id) {
				return true
			}
		}
	}
	return false
}

// inPackages reports whether f's component is one of pkgs, by its own name
// or by the source package it was built from.
func inPackages(f inventory.Finding, pkgs []Package) bool {
	c := f.Component
	for _, p := range pkgs {
		if !ecosystemMatches(c.Ecosystem, p.Ecosystem) {
			continue
		}
		if c.Name == p.Name && (p.Version == "" || c.Version == p.Version) {
			return true
		}
		if c.SourceName == p.Name && (p.Version == "" || c.SourceVersion == p.Version) {
			return true
		}
	}
	return false
}

// ecosystemMatches reports whether a component's ecosystem is want, or a
// release of it: "Debian" covers "Debian:12". Empty want covers all.
func ecosystemMatches(got, want string) bool {
	if want == "" || got == want {
		return true
	}
	return !strings.Contains(want, ":") && strings.HasPrefix(got, want+":")
}

// olderThan reports whether an image created at created is more than days
// days old at now. An unknown (zero) creation time is never old: the
// condition needs evidence, not its absence.
func olderThan(created, now time.Time, days int) bool {
	if created.IsZero() {
		return false
	}
	return now.Sub(created) > time.Duration(days)*24*time.Hour
}

// repoMatches reports whether the canonical repository name repo matches
// one of patterns.
func repoMatches(repo string, patterns []string) bool {
	for _, p := range patterns {
		if globMatch(p, repo) {
			return true
		}
	}
	return false
}

// inspectionFailed reports whether the inspection ended in an error.
func inspectionFailed(err error) bool {
	return err != nil
}
