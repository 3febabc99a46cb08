package vulndb

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// parseVersion parses v in the ordering of ecosystem (dpkg, apk, rpm,
// SemVer, PEP 440, Maven, ...), via osv-scalibr's semantic package.
func parseVersion(ecosystem, v string) (semantic.Version, error) {
	base := baseEcosystem(ecosystem)
	if base == "Go" {
		// Go records leave out the "v" of module versions and the "go" of
		// toolchain versions that build info carries.
		v = strings.TrimPrefix(strings.TrimPrefix(v, "go"), "v")
	}
	return semantic.Parse(v, base)
}

// affects reports whether v, a version of ecosystem, is in a, and the
// fixed version that ends the range holding it ("" when none).
// An entry with neither ranges nor versions affects every version.
func (a Affected) affects(ecosystem string, v semantic.Version) (bool, string) {
	if a.Status == StatusNotAffected {
		return false, ""
	}
	if len(a.Ranges) == 0 && len(a.Versions) == 0 {
		return true, ""
	}
	// Ranges first: they know the fixed version, a versions list does not.
	for _, r := range a.Ranges {
		if in, fixed := r.holds(ecosystem, v); in {
			return true, fixed
		}
	}
	for _, listed := range a.Versions {
		if c, err := compare(v, ecosystem, listed); err == nil && c == 0 {
			return true, ""
		}
	}
	return false, ""
}

// compare orders v against s parsed in ecosystem.
func compare(v semantic.Version, ecosystem, s string) (int, error) {
	w, err := parseVersion(ecosystem, s)
	if err != nil {
		return 0, err
	}
	return v.Compare(w)
}

// event is a range event with its version parsed; zero marks the
// "introduced: 0" that precedes every version.
type event struct {
	kind string // introduced, fixed, last_affected
	raw  string
	ver  semantic.Version
	zero bool
}

// holds evaluates an ECOSYSTEM or SEMVER range as the OSV schema says:
// events in version order, each introduced at or below v opens the range,
// each fixed at or below v closes it, each last_affected below v closes it.
// GIT ranges name commits, which an installed package does not have.
func (r Range) holds(ecosystem string, v semantic.Version) (bool, string) {
	if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
		return false, ""
	}
	if r.Type == "SEMVER" {
		ecosystem = "npm" // plain SemVer 2.0 ordering
	}
	events, err := parseEvents(ecosystem, r.Events)
	if err != nil {
		return false, ""
	}

	affected := false
	for i, e := range events {
		c := 1 // "introduced: 0" is below every version
		if !e.zero {
			c, err = v.Compare(e.ver)
			if err != nil {
				return false, ""
			}
		}
		applies := c >= 0
		if e.kind == "last_affected" {
			applies = c > 0
		}
		if !applies {
			// Events are sorted, so none after this one applies either.
			if affected {
				return true, nextFixed(events[i:])
			}
			return false, ""
		}
		affected = e.kind == "introduced"
	}
	return affected, ""
}

// nextFixed returns the first fixed version among events.
func nextFixed(events []event) string {
	for _, e := range events {
		if e.kind == "fixed" {
			return e.raw
		}
	}
	return ""
}

// parseEvents parses and sorts events; at equal versions an introduced
// comes first so that the other event closes the range.
func parseEvents(ecosystem string, in []Event) ([]event, error) {
	out := make([]event, 0, len(in))
	for _, e := range in {
		ev := event{kind: "introduced", raw: e.Introduced}
		switch {
		case e.Fixed != "":
			ev = event{kind: "fixed", raw: e.Fixed}
		case e.LastAffected != "":
			ev = event{kind: "last_affected", raw: e.LastAffected}
		case e.Introduced == "":
			continue // limit events only bound GIT ranges
		}
		if ev.kind == "introduced" && ev.raw == "0" {
			ev.zero = true
		} else {
			v, err := parseVersion(ecosystem, ev.raw)
			if err != nil {
				return nil, fmt.Errorf("parse range event %q: %w", ev.raw, err)
			}
			ev.ver = v
		}
		out = append(out, ev)
	}

	var cmpErr error
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.zero || b.zero {
			return a.zero && !b.zero
		}
		c, err := a.ver.Compare(b.ver)
		if err != nil {
			cmpErr = err
		}
		if c != 0 {
			return c < 0
		}
		return a.kind == "introduced" && b.kind != "introduced"
	})
	return out, cmpErr
}
