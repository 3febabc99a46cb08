// Package policy decides what the firewall does with an image: given the
// evidence an inspection produced (findings, the image's age, its
// repository, whether inspection failed) and the configured policies, Decide
// returns a Verdict (allow, audit, quarantine or inspection failed) with the
// policies that fired and the findings that made each fire.
//
// Decisions are pure: the package does no I/O, keeps no state and never
// reads the clock (the caller passes "now" and the image's creation time),
// so the same Input always gives the same Verdict and a re-evaluation after
// new vulnerability data is just another call (NewMatches then tells what
// that call found that the last did not). Decide only reads its Input, so
// it is safe for concurrent use. The package imports no HTTP, storage or UI
// code; a test in internal/archtest keeps it that way.
//
// The types carry yaml tags because the configuration file embeds them: a
// Set under "policies" and a Firewall under "firewall". Set.Validate and
// Firewall.Validate name the failing key the way the config package does
// ("policies[2].conditions.min_score: must be between 0 and 10").
package policy

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Action is what a fired policy asks for.
type Action string

const (
	// ActionFail quarantines the image in quarantine mode and records a
	// violation in audit mode.
	ActionFail Action = "fail"
	// ActionWarn records a violation and serves the image in every mode.
	ActionWarn Action = "warn"
	// ActionNone records that the policy fired and changes nothing, for
	// trying a policy out before it counts.
	ActionNone Action = "none"
)

// Policy is one named rule: when all of its Conditions hold, it fires and
// asks for its Action.
type Policy struct {
	// Name identifies the policy in records and logs, and is the public
	// reason a blocked client may be shown, so it is restricted to lower-case
	// letters, digits, ".", "_" and "-" and never carries finding detail.
	// Required and unique within a Set.
	Name string `yaml:"name" json:"name"`
	// Description says why the policy exists, for operators only.
	Description string `yaml:"description" json:"description,omitempty"`
	// Conditions must all hold for the policy to fire; at least one is set.
	Conditions Conditions `yaml:"conditions" json:"conditions"`
	// Action is fail, warn or none. Required.
	Action Action `yaml:"action" json:"action"`
}

// Set is an ordered list of policies. Order matters only for the public
// reason: the first fired policy with the deciding action names it.
type Set []Policy

// Conditions are the tests a policy applies. Every condition that is set
// must hold for the policy to fire (they are joined by AND; write two
// policies for OR). An unset condition (its zero value) is no test at all.
//
// Finding conditions (Malware through Packages) must all hold for one and
// the same finding: "min_score: 8" with "fixable: true" asks for a finding
// that is both, not one of each. The policy fires when at least one finding
// passes them all, and those findings are its evidence. Image conditions
// (OlderThanDays through InspectionFailed) are about the image as a whole;
// a policy with only image conditions fires with no findings as evidence.
type Conditions struct {
	// Malware holds for a finding that marks malware: a malicious-package
	// record or a known-bad file digest.
	Malware bool `yaml:"malware" json:"malware,omitempty"`
	// MinScore holds for a finding whose CVSS base score is at least this,
	// from 0.1 to 10; 0 means no score test. An unscored finding never
	// satisfies it (unscored is not a score of 0).
	MinScore float64 `yaml:"min_score" json:"min_score,omitempty"`
	// Severity holds for a finding at this level or above: low, medium,
	// high or critical. A scored finding's level is the CVSS rating of its
	// score; an unscored one's is its vendor's word (Debian's urgency, Red
	// Hat's "important", GitHub's "moderate"), so severity can catch what
	// MinScore cannot. A word that names no level ("unimportant", "not yet
	// assigned") satisfies no Severity.
	Severity string `yaml:"severity" json:"severity,omitempty"`
	// Fixable holds for a finding whose fixed version is known.
	Fixable bool `yaml:"fixable" json:"fixable,omitempty"`
	// Status holds for a finding whose vendor status is one of these
	// (fixed, open, no-dsa, ignored, unimportant, will-not-fix). A finding
	// without a status matches none.
	Status []string `yaml:"status" json:"status,omitempty"`
	// ExceptStatus holds for a finding whose vendor status is none of
	// these, for leaving out what the vendor has judged harmless. A finding
	// without a status passes.
	ExceptStatus []string `yaml:"except_status" json:"except_status,omitempty"`
	// IDs holds for a finding whose id or one of whose aliases is listed
	// (CVE-2024-3094, GHSA-..., MAL-...), compared without regard to case.
	IDs []string `yaml:"ids" json:"ids,omitempty"`
	// Packages holds for a finding in one of these packages.
	Packages []Package `yaml:"packages" json:"packages,omitempty"`

	// OlderThanDays holds for an image created more than this many days
	// before now; 0 means no age test. An image whose creation time is
	// unknown never satisfies it.
	OlderThanDays int `yaml:"older_than_days" json:"older_than_days,omitempty"`
	// Repositories holds for an image whose canonical repository name
	// ("docker.io/library/nginx") matches one of these patterns: a policy
	// for a denied list, or one that applies to some repositories only.
	// Patterns match "/"-separated segments with path.Match's syntax, and
	// a "**" segment matches any number of segments ("ghcr.io/**").
	Repositories []string `yaml:"repositories" json:"repositories,omitempty"`
	// ExceptRepositories holds for an image whose repository matches none
	// of these patterns: with action fail, an allowed list.
	ExceptRepositories []string `yaml:"except_repositories" json:"except_repositories,omitempty"`
	// InspectionFailed holds when the image could not be inspected. It
	// cannot be combined with finding conditions, since a failed inspection
	// has no findings.
	InspectionFailed bool `yaml:"inspection_failed" json:"inspection_failed,omitempty"`
}

// Package names a package for Conditions.Packages.
type Package struct {
	// Ecosystem is an OSV ecosystem (npm, PyPI, Go, Debian, ...). A distro
	// ecosystem without a release ("Debian") matches every release
	// ("Debian:12"); empty matches any ecosystem.
	Ecosystem string `yaml:"ecosystem" json:"ecosystem,omitempty"`
	// Name is the package name, or for distro packages the binary or the
	// source package's name. Required.
	Name string `yaml:"name" json:"name"`
	// Version, when set, is the one version that matches, compared as an
	// exact string with the component's version, or its source version when
	// Name matched the source package; empty matches every version.
	//
	// TODO: accept a version range ("< 1.2.4"), which needs each
	// ecosystem's version ordering (dpkg, apk, SemVer, PEP 440); until then
	// a policy on a vulnerable range has to list each version.
	Version string `yaml:"version" json:"version,omitempty"`
}

// Waiver releases one image: a quarantine or failed inspection of the image
// with this digest is served anyway until the waiver expires. Waivers are
// kept by the firewall; here they are only evidence.
type Waiver struct {
	// Digest is the image manifest digest the waiver applies to, and the
	// only one.
	Digest digest.Digest `json:"digest"`
	// Expires is when the waiver stops applying; zero means never.
	Expires time.Time `json:"expires,omitzero"`
	// Reason is the admin's note, kept with the verdict.
	Reason string `json:"reason,omitempty"`
}
