package policy

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"

	"breakwater/internal/inventory"
)

// policyName is what may be shown to a client as a reason: short, lower
// case, and unable to carry markup or a header break.
var policyName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

const maxPolicyName = 64

func validName(name string) bool {
	return len(name) <= maxPolicyName && policyName.MatchString(name)
}

// statuses are the vendor statuses a condition may name.
var statuses = []string{
	inventory.StatusFixed,
	inventory.StatusOpen,
	inventory.StatusNoDSA,
	inventory.StatusIgnored,
	inventory.StatusUnimportant,
	inventory.StatusWillNotFix,
}

// problems collects validation errors, each naming its key path.
type problems []error

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// Validate reports every problem in s, each naming its key path under
// "policies" ("policies[2].action: ..."), joined with errors.Join; nil
// means s is usable.
func (s Set) Validate() error {
	var ps problems
	owner := map[string]string{}
	for i, p := range s {
		at := fmt.Sprintf("policies[%d]", i)
		switch {
		case p.Name == "":
			ps.add(at+".name", "must not be empty")
		case !validName(p.Name):
			ps.add(at+".name",
				"%q must be lower-case letters and digits with single . _ or - between, at most %d long",
				p.Name, maxPolicyName)
		case owner[p.Name] != "":
			ps.add(at+".name", "%q is already used by %s", p.Name, owner[p.Name])
		default:
			owner[p.Name] = at
		}
		switch p.Action {
		case ActionFail, ActionWarn, ActionNone:
		default:
			ps.add(at+".action", "must be fail, warn or none, not %q", p.Action)
		}
		p.Conditions.validate(&ps, at+".conditions")
	}
	return errors.Join(ps...)
}

func (c Conditions) validate(ps *problems, at string) {
	if c.isEmpty() {
		ps.add(at, "at least one condition must be set")
	}
	if math.IsNaN(c.MinScore) || c.MinScore < 0 || c.MinScore > 10 {
		ps.add(at+".min_score", "must be between 0 and 10, not %v", c.MinScore)
	}
	if _, ok := levels[c.Severity]; c.Severity != "" && !ok {
		ps.add(at+".severity", "must be low, medium, high or critical, not %q", c.Severity)
	}
	validateStatuses(ps, at+".status", c.Status)
	validateStatuses(ps, at+".except_status", c.ExceptStatus)
	for i, s := range c.ExceptStatus {
		if slices.Contains(c.Status, s) {
			ps.add(fmt.Sprintf("%s.except_status[%d]", at, i),
				"%q is also in status, so no finding can match", s)
		}
	}
	for i, id := range c.IDs {
		if id == "" {
			ps.add(fmt.Sprintf("%s.ids[%d]", at, i), "must not be empty")
		}
	}
	for i, p := range c.Packages {
		if p.Name == "" {
			ps.add(fmt.Sprintf("%s.packages[%d].name", at, i), "must not be empty")
		}
	}
	if c.OlderThanDays < 0 {
		ps.add(at+".older_than_days", "must not be negative")
	}
	validatePatterns(ps, at+".repositories", c.Repositories)
	validatePatterns(ps, at+".except_repositories", c.ExceptRepositories)
	if c.InspectionFailed && len(c.findingTests()) > 0 {
		ps.add(at+".inspection_failed",
			"cannot be combined with finding conditions: a failed inspection has no findings")
	}
}

func validateStatuses(ps *problems, at string, list []string) {
	for i, s := range list {
		if !slices.Contains(statuses, s) {
			ps.add(fmt.Sprintf("%s[%d]", at, i),
				"must be one of fixed, open, no-dsa, ignored, unimportant, will-not-fix, not %q", s)
		}
	}
}

func validatePatterns(ps *problems, at string, patterns []string) {
	for i, p := range patterns {
		if err := checkPattern(p); err != nil {
			ps.add(fmt.Sprintf("%s[%d]", at, i), "%q %v", p, err)
		}
	}
}

// Validate reports every problem in f, each naming its key path under
// "firewall" ("firewall.repositories[0].mode: ..."), joined with
// errors.Join; nil means f is usable.
func (f Firewall) Validate() error {
	var ps problems
	if !f.Mode.valid() {
		ps.add("firewall.mode", "must be off, audit or quarantine, not %q", f.Mode)
	}
	owner := map[string]string{}
	for i, r := range f.Repositories {
		at := fmt.Sprintf("firewall.repositories[%d]", i)
		if err := checkPattern(r.Match); err != nil {
			ps.add(at+".match", "%q %v", r.Match, err)
		} else if owner[r.Match] != "" {
			ps.add(at+".match",
				"%q is already used by %s, so this rule never applies", r.Match, owner[r.Match])
		} else {
			owner[r.Match] = at
		}
		if r.Mode != "" && !r.Mode.valid() {
			ps.add(at+".mode",
				"must be off, audit or quarantine, or left out for firewall.mode, not %q", r.Mode)
		}
	}
	return errors.Join(ps...)
}

func (m Mode) valid() bool {
	return m == ModeOff || m == ModeAudit || m == ModeQuarantine
}
