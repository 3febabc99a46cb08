package policy

import "breakwater/internal/inventory"

// levelNames name each level as store and the firewall's records do.
var levelNames = [...]string{
	levelNone:     "none",
	levelLow:      "low",
	levelMedium:   "medium",
	levelHigh:     "high",
	levelCritical: "critical",
}

// SeverityOf names a finding's level as a Severity condition compares it:
// none, low, medium, high or critical.
func SeverityOf(f inventory.Finding) string {
	return levelNames[levelOf(f)]
}
