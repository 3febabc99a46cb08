package vulndb

import (
	"fmt"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// cvssScore computes the base score of a CVSS v3.0, v3.1 or v4.0 vector.
func cvssScore(vector string) (float64, error) {
	switch {
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("parse cvss vector %q: %w", vector, err)
		}
		return v.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("parse cvss vector %q: %w", vector, err)
		}
		return v.BaseScore(), nil
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := cvss40.ParseVector(vector)
		if err != nil {
			return 0, fmt.Errorf("parse cvss vector %q: %w", vector, err)
		}
		return v.Score(), nil
	}
	return 0, fmt.Errorf("parse cvss vector %q: not CVSS v3.x or v4.0", vector)
}

// best returns the highest score among sevs and the vector it came from.
// A vector that does not parse falls back to the source's own base score.
//
// CVSS v2 ratings are left out on purpose: NVD stopped giving them in
// 2022, and the CVEs rated only under v2 are old issues that distros
// mostly call unimportant (tar's CVE-2005-2541 has v2 10.0), which would
// fail every "score at least N" policy. Such a finding is unscored and
// keeps the vendor's urgency.
func best(sevs []Severity) (score float64, vector string, ok bool) {
	for _, s := range sevs {
		if s.Type == "CVSS_V2" {
			continue
		}
		sc, err := cvssScore(s.Vector)
		if err != nil {
			if s.Score <= 0 {
				continue
			}
			sc = s.Score
		}
		if !ok || sc > score {
			score, vector, ok = sc, s.Vector, true
		}
	}
	return score, vector, ok
}

// rating is the qualitative level of a score, by the thresholds v3.x and
// v4.0 share.
func rating(score float64) string {
	switch {
	case score >= 9:
		return "critical"
	case score >= 7:
		return "high"
	case score >= 4:
		return "medium"
	case score > 0:
		return "low"
	}
	return "none"
}

// labelSeverity turns a source's word (GHSA's MODERATE, Debian's urgency)
// into the levels findings use where they mean the same.
func labelSeverity(label string) string {
	label = strings.ToLower(label)
	if label == "moderate" {
		return "medium"
	}
	return label
}
