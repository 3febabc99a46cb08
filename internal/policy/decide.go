package policy

import (
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
)

// Result is what happens to an image.
type Result string

const (
	// ResultAllow serves the image with nothing to record.
	ResultAllow Result = "allow"
	// ResultAudit serves the image and records the policies that fired.
	ResultAudit Result = "audit"
	// ResultQuarantine withholds the image: a fail policy fired in a
	// quarantine-mode repository.
	ResultQuarantine Result = "quarantine"
	// ResultInspectionFailed withholds the image because it could not be
	// inspected and the repository fails closed.
	ResultInspectionFailed Result = "inspection-failed"
)

// Blocks reports whether r withholds the image from clients.
func (r Result) Blocks() bool {
	return r == ResultQuarantine || r == ResultInspectionFailed
}

// ReasonInspectionFailed is the public reason of a verdict that a failed
// inspection decided without a policy naming it.
const ReasonInspectionFailed = "inspection-failed"

// Input is everything Decide looks at. In the zero value no policy is set,
// so nothing fires, and the empty Mode counts as quarantine.
type Input struct {
	// Digest is the image manifest's digest, which waivers name.
	Digest digest.Digest
	// Repository is the canonical repository name, such as
	// "docker.io/library/nginx", for repository conditions.
	Repository string
	// Mode is the repository's firewall mode. An empty or unknown mode is
	// taken as quarantine, so a wiring mistake fails closed.
	Mode Mode
	// FailOpen serves an image whose inspection failed (as audit) rather
	// than withholding it; policies that fire still apply.
	FailOpen bool
	// CachedBeforeFirewall is set for an image that was cached before the
	// firewall was turned on: a verdict that would block it is audited
	// instead. The caller sets it too when re-evaluating an image that was
	// already served and blocking served images is off.
	CachedBeforeFirewall bool
	// Policies are the policies to apply, in order; they should have passed
	// Set.Validate.
	Policies Set
	// Waivers are the releases in force anywhere; only those naming Digest
	// apply.
	Waivers []Waiver

	// Findings are what matching found against the image's components.
	Findings []inventory.Finding
	// Components is how many components the inspection found, kept in the
	// verdict so a record shows how much was looked at.
	Components int
	// InspectionErr is why inspection could not finish, nil if it did; the
	// findings of a failed inspection are not trusted.
	InspectionErr error
	// Created is the image config's creation time; zero if unknown.
	Created time.Time
	// Now is the time of the decision, for image age and waiver expiry.
	Now time.Time
}

// Verdict is Decide's answer.
type Verdict struct {
	Result Result `json:"result"`
	// Reason is the stable public reason for a verdict other than a plain
	// allow: the name of the first policy that fired with the deciding
	// action, or ReasonInspectionFailed. It carries no finding detail, so
	// a blocked client may be shown it (a name Set.Validate would refuse
	// shows as ReasonUnnamed); it stays set when a waiver or the
	// image's age before the firewall turned a block into a serve, so the
	// record says what was let through.
	Reason string `json:"reason,omitempty"`
	// Matches are the policies that fired, in policy order, whatever their
	// action.
	Matches []Match `json:"matches,omitempty"`
	// Waiver is the waiver that turned a block into an allow.
	Waiver *Waiver `json:"waiver,omitempty"`
	// CachedBeforeFirewall is set when a block was audited instead because
	// the image was cached before the firewall was on.
	CachedBeforeFirewall bool `json:"cached_before_firewall,omitempty"`
	// Components and Findings count the evidence the verdict rests on; a
	// failed inspection's findings are not counted, since they are not
	// judged.
	Components int `json:"components"`
	Findings   int `json:"findings"`
}

// Match is one policy that fired and its evidence.
type Match struct {
	Policy string `json:"policy"`
	Action Action `json:"action"`
	// Findings are the findings that passed every finding condition of the
	// policy; empty for a policy with image conditions only.
	Findings []inventory.Finding `json:"findings,omitempty"`
}

// Decide judges one image. It follows these steps:
//
//  1. In mode off the image is allowed without looking at anything.
//  2. Every policy is matched against the evidence.
//  3. A failed inspection in a quarantine-mode repository that does not
//     fail open is withheld (inspection failed).
//  4. A fail policy in a quarantine-mode repository quarantines.
//  5. Otherwise a fail or warn policy, or a failed inspection, audits, and
//     anything else is allowed.
//  6. A block is then lifted: a waiver for the digest that has not expired
//     allows, and an image cached before the firewall was on is audited.
//
// An action other than warn or none counts as fail, so an invalid policy
// blocks rather than serves.
func Decide(in Input) Verdict {
	// A failed inspection's findings are partial at best; judging them
	// would make the verdict depend on how far it got.
	findings := in.Findings
	if inspectionFailed(in.InspectionErr) {
		findings = nil
	}
	v := Verdict{Result: ResultAllow, Components: in.Components, Findings: len(findings)}
	if in.Mode == ModeOff {
		return v
	}

	im := image{repo: in.Repository, created: in.Created, now: in.Now, inspected: in.InspectionErr}
	for _, p := range in.Policies {
		if ok, hits := p.match(im, findings); ok {
			v.Matches = append(v.Matches, Match{Policy: p.Name, Action: p.Action, Findings: hits})
		}
	}

	quarantine := in.Mode != ModeAudit
	failed := inspectionFailed(in.InspectionErr)
	fail, warn := publicName(v.first(isFail)), publicName(v.first(isWarn))
	switch {
	case failed && quarantine && !in.FailOpen:
		v.Result, v.Reason = ResultInspectionFailed, or(fail, ReasonInspectionFailed)
	case fail != "" && quarantine:
		v.Result, v.Reason = ResultQuarantine, fail
	case fail != "" || warn != "":
		v.Result, v.Reason = ResultAudit, or(fail, warn)
	case failed:
		v.Result, v.Reason = ResultAudit, ReasonInspectionFailed
	}

	if v.Result.Blocks() {
		v.release(in)
	}
	return v
}

// release lifts a block by a waiver or, failing that, because the image
// was cached before the firewall was on.
func (v *Verdict) release(in Input) {
	if w, ok := waiverFor(in.Waivers, in.Digest, in.Now); ok {
		v.Result, v.Waiver = ResultAllow, &w
		return
	}
	if in.CachedBeforeFirewall {
		v.Result, v.CachedBeforeFirewall = ResultAudit, true
	}
}

// waiverFor returns the first waiver for d that is in force at now. A
// waiver is in force until its expiry, exclusive; it never applies to
// another digest or an empty one.
func waiverFor(ws []Waiver, d digest.Digest, now time.Time) (Waiver, bool) {
	for _, w := range ws {
		if d != "" && w.Digest == d && (w.Expires.IsZero() || now.Before(w.Expires)) {
			return w, true
		}
	}
	return Waiver{}, false
}

func isFail(a Action) bool { return a != ActionWarn && a != ActionNone }
func isWarn(a Action) bool { return a == ActionWarn }

// first returns the name of the first match whose action is wanted.
func (v Verdict) first(wanted func(Action) bool) string {
	for _, m := range v.Matches {
		if wanted(m.Action) {
			return m.Policy
		}
	}
	return ""
}

// ReasonUnnamed stands in for a policy name that Set.Validate would refuse,
// because Reason may reach a client and names are only safe to show once
// checked.
const ReasonUnnamed = "policy"

// publicName returns name if it is fit to show a client, ReasonUnnamed if
// not, and "" for "".
func publicName(name string) string {
	if name == "" || validName(name) {
		return name
	}
	return ReasonUnnamed
}

// or returns s, or fallback when s is empty.
func or[T ~string](s, fallback T) T {
	if s != "" {
		return s
	}
	return fallback
}
