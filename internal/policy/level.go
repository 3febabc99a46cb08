package policy

import (
	"strings"

	"breakwater/internal/inventory"
)

// level orders qualitative severities; levelNone is below every level a
// Severity condition can ask for.
type level int

const (
	levelNone level = iota
	levelLow
	levelMedium
	levelHigh
	levelCritical
)

// levels are the words a Severity condition accepts.
var levels = map[string]level{
	"low":      levelLow,
	"medium":   levelMedium,
	"high":     levelHigh,
	"critical": levelCritical,
}

// vendorWords maps the severity words feeds use for unscored records to a
// level. Debian's urgencies are low, medium and high (sometimes marked
// with "*" when not yet reviewed); Red Hat says moderate and important,
// GitHub says moderate. Words that are not in the map, such as Debian's
// "unimportant" and "not yet assigned" or Ubuntu's "negligible", name no
// level.
var vendorWords = map[string]level{
	"low":       levelLow,
	"medium":    levelMedium,
	"moderate":  levelMedium,
	"high":      levelHigh,
	"important": levelHigh,
	"critical":  levelCritical,
}

// scoreLevel is CVSS's qualitative rating of a base score.
func scoreLevel(score float64) level {
	switch {
	case score >= 9:
		return levelCritical
	case score >= 7:
		return levelHigh
	case score >= 4:
		return levelMedium
	case score > 0:
		return levelLow
	}
	return levelNone
}

// wordLevel reads a vendor's severity word.
func wordLevel(word string) level {
	w := strings.ToLower(strings.TrimSpace(strings.TrimRight(word, "* ")))
	return vendorWords[w]
}

// levelOf is a finding's level: the rating of its score when it has one,
// its vendor's word otherwise.
func levelOf(f inventory.Finding) level {
	if f.Scored {
		return scoreLevel(f.Score)
	}
	return wordLevel(f.Severity)
}
