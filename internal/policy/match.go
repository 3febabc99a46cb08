package policy

import (
	"time"

	"breakwater/internal/inventory"
)

// findingTest is one finding condition bound to its configured value.
type findingTest func(inventory.Finding) bool

// findingTests lists the finding conditions c sets, each as its predicate;
// none means c has no finding conditions.
func (c Conditions) findingTests() []findingTest {
	var ts []findingTest
	if c.Malware {
		ts = append(ts, isMalware)
	}
	if c.MinScore > 0 {
		ts = append(ts, func(f inventory.Finding) bool { return scoreAtLeast(f, c.MinScore) })
	}
	if c.Severity != "" {
		// An unknown word asks for more than critical, so it never
		// matches rather than matching everything.
		want, ok := levels[c.Severity]
		if !ok {
			want = levelCritical + 1
		}
		ts = append(ts, func(f inventory.Finding) bool { return severityAtLeast(f, want) })
	}
	if c.Fixable {
		ts = append(ts, isFixable)
	}
	if len(c.Status) > 0 {
		ts = append(ts, func(f inventory.Finding) bool { return statusIn(f, c.Status) })
	}
	if len(c.ExceptStatus) > 0 {
		ts = append(ts, func(f inventory.Finding) bool { return !statusIn(f, c.ExceptStatus) })
	}
	if len(c.IDs) > 0 {
		ts = append(ts, func(f inventory.Finding) bool { return hasID(f, c.IDs) })
	}
	if len(c.Packages) > 0 {
		ts = append(ts, func(f inventory.Finding) bool { return inPackages(f, c.Packages) })
	}
	return ts
}

// image is the evidence about the image as a whole.
type image struct {
	repo      string
	created   time.Time
	now       time.Time
	inspected error
}

// imageHolds reports whether every image condition c sets holds for im.
func (c Conditions) imageHolds(im image) bool {
	if c.OlderThanDays > 0 && !olderThan(im.created, im.now, c.OlderThanDays) {
		return false
	}
	if len(c.Repositories) > 0 && !repoMatches(im.repo, c.Repositories) {
		return false
	}
	if len(c.ExceptRepositories) > 0 && repoMatches(im.repo, c.ExceptRepositories) {
		return false
	}
	if c.InspectionFailed && !inspectionFailed(im.inspected) {
		return false
	}
	return true
}

// isEmpty reports whether c sets no condition at all.
func (c Conditions) isEmpty() bool {
	noImage := c.OlderThanDays == 0 && len(c.Repositories) == 0 &&
		len(c.ExceptRepositories) == 0 && !c.InspectionFailed
	return noImage && len(c.findingTests()) == 0
}

// match tests p against the evidence. It reports whether p fires and, for
// a policy with finding conditions, the findings that passed them all.
func (p Policy) match(im image, findings []inventory.Finding) (bool, []inventory.Finding) {
	if p.Conditions.isEmpty() || !p.Conditions.imageHolds(im) {
		return false, nil
	}
	tests := p.Conditions.findingTests()
	if len(tests) == 0 {
		return true, nil
	}
	var hits []inventory.Finding
	for _, f := range findings {
		if passesAll(f, tests) {
			hits = append(hits, f)
		}
	}
	return len(hits) > 0, hits
}

func passesAll(f inventory.Finding, tests []findingTest) bool {
	for _, t := range tests {
		if !t(f) {
			return false
		}
	}
	return true
}
