package policy

import "slices"

// Mode is how a repository runs the firewall.
type Mode string

const (
	// ModeOff serves everything without inspecting it: a plain cache.
	ModeOff Mode = "off"
	// ModeAudit inspects and records violations but serves every image.
	ModeAudit Mode = "audit"
	// ModeQuarantine withholds images that a fail policy fires on.
	ModeQuarantine Mode = "quarantine"
)

// Firewall holds the firewall's settings: the defaults every repository
// gets and the rules that change them for some repositories. The zero
// value is not valid (it has no mode); start from DefaultFirewall.
type Firewall struct {
	// Mode is the mode of repositories no rule names: off, audit or
	// quarantine. Default quarantine.
	Mode Mode `yaml:"mode" json:"mode"`
	// FailOpen serves an image whose inspection cannot finish (audited)
	// instead of withholding it. Default false: fail closed.
	FailOpen bool `yaml:"fail_open" json:"fail_open"`
	// ShowReason answers a pull of a withheld image with 403 DENIED naming
	// the policy and the quarantine id, instead of 404 MANIFEST_UNKNOWN
	// with no detail. Default false.
	ShowReason bool `yaml:"show_reason" json:"show_reason"`
	// BlockServed lets a re-evaluation (after new vulnerability data or a
	// policy change) block images that were already served; otherwise new
	// violations of served images are only recorded. Default false.
	BlockServed bool `yaml:"block_served" json:"block_served"`
	// Repositories are rules for some repositories; the first rule whose
	// pattern matches a repository's canonical name applies.
	Repositories []RepositoryRule `yaml:"repositories" json:"repositories,omitempty"`
}

// RepositoryRule sets the firewall's settings for the repositories its
// pattern matches. A rule replaces the defaults whole: a Mode left out is
// the Firewall's Mode, but FailOpen and ShowReason left out are false.
type RepositoryRule struct {
	// Match is a pattern on canonical repository names, with the syntax
	// of Conditions.Repositories ("docker.io/library/*", "ghcr.io/**").
	// Required.
	Match string `yaml:"match" json:"match"`
	// Mode is off, audit or quarantine; empty takes Firewall.Mode.
	Mode       Mode `yaml:"mode" json:"mode,omitempty"`
	FailOpen   bool `yaml:"fail_open" json:"fail_open"`
	ShowReason bool `yaml:"show_reason" json:"show_reason"`
}

// Settings are the firewall settings in force for one repository.
type Settings struct {
	Mode       Mode
	FailOpen   bool
	ShowReason bool
}

// For returns the settings in force for the canonical repository name repo.
func (f Firewall) For(repo string) Settings {
	for _, r := range f.Repositories {
		if globMatch(r.Match, repo) {
			return Settings{Mode: or(r.Mode, f.Mode), FailOpen: r.FailOpen, ShowReason: r.ShowReason}
		}
	}
	return Settings{Mode: f.Mode, FailOpen: f.FailOpen, ShowReason: f.ShowReason}
}

// DefaultFirewall returns the shipped settings: quarantine mode everywhere,
// failing closed, answering withheld pulls with a bare 404, and leaving
// already-served images served.
func DefaultFirewall() Firewall {
	return Firewall{Mode: ModeQuarantine}
}

// WithMode returns f with every repository in mode m, rules included, for
// a command-line override such as serve --firewall audit. Rules keep their
// other settings.
func (f Firewall) WithMode(m Mode) Firewall {
	f.Mode = m
	f.Repositories = slices.Clone(f.Repositories)
	for i := range f.Repositories {
		f.Repositories[i].Mode = m
	}
	return f
}
