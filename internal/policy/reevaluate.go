package policy

import "breakwater/internal/inventory"

// NewMatches returns what v finds that prev did not, for recording the
// new violations of an image judged again after the vulnerability data or
// a policy changed: each policy that fires now and did not fire in prev,
// whole, and for a policy that fired in both, only the findings prev did
// not have. A finding is the same when its id and its component (ecosystem,
// name, version, layer and path) are; a changed score or status alone is
// not new.
func (v Verdict) NewMatches(prev Verdict) []Match {
	before := make(map[string]map[findingKey]bool, len(prev.Matches))
	for _, m := range prev.Matches {
		seen := make(map[findingKey]bool, len(m.Findings))
		for _, f := range m.Findings {
			seen[keyOf(f)] = true
		}
		before[m.Policy] = seen
	}

	var out []Match
	for _, m := range v.Matches {
		seen, fired := before[m.Policy]
		if !fired {
			out = append(out, m)
			continue
		}
		var fresh []inventory.Finding
		for _, f := range m.Findings {
			if !seen[keyOf(f)] {
				fresh = append(fresh, f)
			}
		}
		if len(fresh) > 0 {
			out = append(out, Match{Policy: m.Policy, Action: m.Action, Findings: fresh})
		}
	}
	return out
}

// findingKey identifies a finding across evaluations.
type findingKey struct {
	id, ecosystem, name, version, layer, path string
}

func keyOf(f inventory.Finding) findingKey {
	c := f.Component
	return findingKey{f.ID, c.Ecosystem, c.Name, c.Version, c.Layer.String(), c.Path}
}
