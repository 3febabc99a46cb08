// Package inventory holds what an inspection finds in an image and what the
// vulnerability data says about it: components with their ecosystem, name
// and version, and findings against them. It is the contract between scan
// (which fills an Inventory from layers) and vulndb (which matches it), so
// neither needs to know the other.
package inventory

import "github.com/opencontainers/go-digest"

// Ecosystems use OSV's names so records match without translation. Distro
// ecosystems carry their release: "Debian:12", "Alpine:v3.20".
const (
	Debian = "Debian"
	Alpine = "Alpine"
	RedHat = "Red Hat"
	Go     = "Go"
	NPM    = "npm"
	PyPI   = "PyPI"
	Maven  = "Maven"
)

// Distro is the operating system release an image is built on, from its
// /etc/os-release. ID is "debian", "alpine", ...; VersionID is "12", "3.20.3".
type Distro struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id"`
	// Codename is VERSION_CODENAME ("bookworm"), which Debian's tracker uses.
	Codename string `json:"codename,omitempty"`
}

// Component is one installed package.
type Component struct {
	// Ecosystem is an OSV ecosystem; distro packages carry the release
	// ("Debian:12").
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// SourceName and SourceVersion name the source package a binary
	// package was built from (dpkg's Source field, apk's origin, rpm's
	// source rpm), because distro data is often keyed by source.
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	// PURL is the package URL, where the extractor gives one.
	PURL string `json:"purl,omitempty"`
	// Layer and Path say where the component was found.
	Layer digest.Digest `json:"layer"`
	Path  string        `json:"path"`
}

// File is a regular file whose content digest was taken, for matching
// against known-bad file digests.
type File struct {
	Layer  digest.Digest `json:"layer"`
	Path   string        `json:"path"`
	Digest digest.Digest `json:"digest"`
}

// Inventory is everything one inspection of one image found.
type Inventory struct {
	Distro     *Distro     `json:"distro,omitempty"`
	Components []Component `json:"components"`
	Files      []File      `json:"files,omitempty"`
}

// Vendor statuses a finding keeps from distro data, for policies to use.
const (
	StatusFixed       = "fixed"
	StatusOpen        = "open"
	StatusNoDSA       = "no-dsa"
	StatusIgnored     = "ignored"
	StatusUnimportant = "unimportant"
	StatusWillNotFix  = "will-not-fix"
)

// Finding is one vulnerability or malware record matched to one component.
type Finding struct {
	ID        string    `json:"id"`
	Aliases   []string  `json:"aliases,omitempty"`
	Summary   string    `json:"summary,omitempty"`
	Component Component `json:"component"`
	// FixedVersion is the first version without the vulnerability, empty
	// when no fix is known.
	FixedVersion string `json:"fixed_version,omitempty"`
	// Status is the vendor's status (Status* constants); empty when the
	// source says nothing beyond the affected ranges.
	Status string `json:"status,omitempty"`
	// Score is the highest CVSS base score; Scored is false when neither
	// the record nor its aliases carry one, which is never the same as 0.
	Score  float64 `json:"score,omitempty"`
	Scored bool    `json:"scored"`
	// Vector is the CVSS vector the score came from.
	Vector string `json:"vector,omitempty"`
	// Severity is the qualitative level: none, low, medium, high, critical,
	// or a vendor's word (Debian's urgency) when there is no score.
	Severity string `json:"severity,omitempty"`
	// Malware marks a malicious-package record (OSV MAL-) or a known-bad
	// file digest.
	Malware bool `json:"malware,omitempty"`
}
