package vulndb

import (
	"slices"
	"strings"
	"time"
)

// Record is one advisory in the internal model, shaped like an OSV record
// (https://ossf.github.io/osv-schema/) so OSV data passes through nearly
// unchanged and other feeds are converted into it.
type Record struct {
	ID        string     `json:"id"`
	Aliases   []string   `json:"aliases,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Withdrawn bool       `json:"withdrawn,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	// Label is a qualitative severity the source gives without a score
	// (GHSA's database_specific.severity), used only when nothing scores.
	Label string `json:"label,omitempty"`
}

// Malware reports whether r is a malicious-package record: OSV gives those
// MAL- ids (ossf/malicious-packages).
func (r *Record) Malware() bool {
	return strings.HasPrefix(r.ID, "MAL-")
}

// Merge adds o, a record with the same ID, to r: aliases, affected
// packages and severities join, and r keeps its summary and label unless
// it has none. Withdrawn in either means withdrawn.
func (r *Record) Merge(o Record) {
	for _, a := range o.Aliases {
		if !slices.Contains(r.Aliases, a) {
			r.Aliases = append(r.Aliases, a)
		}
	}
	r.Affected = append(r.Affected, o.Affected...)
	r.Severity = append(r.Severity, o.Severity...)
	r.Withdrawn = r.Withdrawn || o.Withdrawn
	if r.Summary == "" {
		r.Summary = o.Summary
	}
	if r.Label == "" {
		r.Label = o.Label
	}
}

// Affected is one package the record affects in one ecosystem.
type Affected struct {
	// Ecosystem is OSV's, with the release for distro data ("Debian:12",
	// "Alpine:v3.20"). Plain "Debian" holds the tracker's unstable state,
	// which applies to a release that has no entry of its own.
	Ecosystem string `json:"ecosystem"`
	// Name is as the source spells it; the store indexes NormalName.
	Name     string   `json:"name"`
	Ranges   []Range  `json:"ranges,omitempty"`
	Versions []string `json:"versions,omitempty"`
	// Status is the vendor's status for this package in this release
	// (inventory.Status* or StatusNotAffected); empty for feeds without one.
	Status string `json:"status,omitempty"`
	// Urgency is the vendor's qualitative severity (Debian's urgency).
	Urgency string `json:"urgency,omitempty"`
	// Unstable marks a fixed event that is the fix in Debian unstable, not
	// in the release: a lower installed version is affected, but no fix for
	// the release is known.
	//
	// TODO: the tracker calls the release fixed when the release's own
	// version is at or above unstable's fix; without the release's package
	// lists an image that has not taken that update is reported open with
	// no fixed version.
	Unstable bool `json:"unstable,omitempty"`
}

// StatusNotAffected is a vendor's word that a release is not affected. It
// yields no finding and overrides the unstable state for that release.
const StatusNotAffected = "not-affected"

// Range is an OSV range: events in version order of the range's type.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Severity is one CVSS rating. Vector is scored when present; Score is the
// source's own base score, used when the vector cannot be parsed.
type Severity struct {
	Type   string  `json:"type"`
	Vector string  `json:"vector,omitempty"`
	Score  float64 `json:"score,omitempty"`
}

// Source is the bookkeeping of one import source.
type Source struct {
	Name       string    `json:"name"`
	ImportedAt time.Time `json:"imported_at"`
	// Modified is the feed's Last-Modified time when it was downloaded,
	// zero for local files or servers that give none; a refresh asks the
	// server for the feed only if it changed since.
	Modified time.Time `json:"modified,omitzero"`
	// Records is how many records the source holds; one that affects
	// packages in two ecosystems counts once here and once in each of
	// Counts.
	Records int `json:"records"`
	// Counts is the number of records per ecosystem (without release), and
	// of known-bad digests under "files".
	Counts map[string]int `json:"counts"`
	// Unknown is the number of files whose format was not recognised.
	Unknown int `json:"unknown"`
}

// BadFile is one known-bad file digest.
type BadFile struct {
	Digest string `json:"digest"`
	Reason string `json:"reason"`
}

// NormalName returns the name the store indexes for a package of
// ecosystem: PyPI names per PEP 503, npm names in lower case (the registry
// no longer admits capitals, yet advisories spell some that way), others
// unchanged.
func NormalName(ecosystem, name string) string {
	switch baseEcosystem(ecosystem) {
	case "PyPI":
		return pep503(name)
	case "npm":
		return strings.ToLower(name)
	}
	return name
}

// pep503 lower-cases name and folds runs of "-", "_" and "." into "-".
func pep503(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// baseEcosystem drops the release: "Debian:12" -> "Debian".
func baseEcosystem(eco string) string {
	base, _, _ := strings.Cut(eco, ":")
	return base
}
