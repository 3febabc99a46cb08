package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Audit actions the firewall writes.
const (
	ActionJudged       = "judged"
	ActionQuarantined  = "quarantined"
	ActionViolation    = "violation"
	ActionNotInspected = "not-inspected"
	ActionReleased     = "released"
	ActionDeleted      = "deleted"
	ActionNoted        = "noted"
	ActionReevaluated  = "reevaluated"
)

// actorFirewall is the actor of the firewall's own decisions.
const actorFirewall = "firewall"

// errNoPipeline is what the Gate methods return on a firewall built for
// administration only.
var errNoPipeline = errors.New("judge image: firewall has no cache or vulnerability database")

// errUnjudged tells Manifest to serve an image no verdict could be made
// for, in an audit-mode repository.
var errUnjudged = errors.New("serve unjudged image")

// judge makes the verdict of an image that has none, sharing one
// inspection among concurrent callers, and waits for it up to Wait.
func (f *Firewall) judge(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	m *cache.Manifest,
	set policy.Settings,
) (store.Verdict, error) {
	if f.opts.Cache == nil || f.opts.VulnDB == nil {
		return store.Verdict{}, errNoPipeline
	}
	ch := f.flight(ctx, repo, ref, m)
	timer := time.NewTimer(f.opts.Wait)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.Err != nil {
			return store.Verdict{}, f.undecided(ctx, repo, m.Digest, set, r.Err)
		}
		return r.Val.(store.Verdict), nil
	case <-timer.C:
		return store.Verdict{}, fmt.Errorf("judge %s@%s: %w", repo, m.Digest, errInspecting)
	case <-ctx.Done():
		return store.Verdict{}, ctx.Err()
	}
}

// flight starts the one decision about m in repo, or joins the one in
// progress. It runs detached from the request: a client giving up or
// timing out must not waste the inspection its next try will want.
func (f *Firewall) flight(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	m *cache.Manifest,
) <-chan singleflight.Result {
	who, _ := RequesterOf(ctx)
	return f.flights.DoChan(repo.String()+"@"+m.Digest.String(), func() (any, error) {
		if !f.started() {
			return store.Verdict{}, errClosed
		}
		defer f.wg.Done()
		ictx, cancel := context.WithTimeout(f.base, f.opts.InspectTimeout)
		defer cancel()
		return f.decide(ictx, repo, ref, m, who)
	})
}

// undecided turns a failure to make a verdict into the client's answer:
// audit-mode repositories serve (and record that), others withhold.
func (f *Firewall) undecided(
	ctx context.Context,
	repo cache.Repo,
	d digest.Digest,
	set policy.Settings,
	err error,
) error {
	if set.Mode == policy.ModeAudit {
		if aerr := f.noteUnjudged(ctx, repo.String(), d, err); aerr != nil {
			return aerr
		}
		return errUnjudged
	}
	if errors.Is(err, ErrNotReady) {
		return fmt.Errorf("judge %s@%s: %w: %w", repo, d, errNotLoaded, err)
	}
	f.log.Warn("image not inspected",
		telemetry.KeyRepo, repo.String(),
		telemetry.KeyDigest, d.String(),
		telemetry.KeyError, err)
	return fmt.Errorf("judge %s@%s: %w: %w", repo, d, errNotInspected, err)
}

// noteUnjudged records once per image that it was served without a
// verdict, for Reevaluate to judge it later; every pull until then would
// otherwise add an entry.
func (f *Firewall) noteUnjudged(ctx context.Context, repo string, d digest.Digest, why error) error {
	filter := store.AuditFilter{Repo: repo, Digest: d, Action: ActionNotInspected}
	seen, err := f.st.Audit(ctx, filter, 0, 1)
	if err != nil || len(seen) > 0 {
		return err
	}
	return f.audit(ctx, actorFirewall, ActionNotInspected, repo, d, why.Error())
}

// decide inspects an image (or reuses its inspection), applies the
// policies, and stores the verdict and, for a block, a quarantine record.
// Errors mean no verdict was stored: the data is not loaded, or a fetch or
// store failed, all worth a retry.
func (f *Firewall) decide(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	m *cache.Manifest,
	who Requester,
) (store.Verdict, error) {
	// A flight that ended just before this one began, or another process,
	// may have judged it.
	if v, err := f.st.Verdict(ctx, repo.String(), m.Digest); !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	p := parseManifest(m.Body)
	now := f.opts.Now()
	if p.isArtifact() {
		v := store.Verdict{
			Repo:     repo.String(),
			Digest:   m.Digest,
			Result:   string(policy.ResultAllow),
			Artifact: true,
			JudgedAt: now,
		}
		if err := f.st.PutVerdict(ctx, v, p.blobs()); err != nil {
			return v, err
		}
		return v, f.audit(ctx, actorFirewall, ActionJudged, v.Repo, v.Digest, "artifact served without inspection")
	}
	if err := f.Ready(ctx); err != nil {
		return store.Verdict{}, err
	}

	in, err := f.inspection(ctx, repo, m.Digest, p)
	if err != nil {
		return store.Verdict{}, err
	}
	before := f.cachedBefore(ctx, repo.String(), m.Digest)
	ev, err := f.evaluate(ctx, repo.String(), m.Digest, in, before)
	if err != nil {
		return store.Verdict{}, err
	}
	v := store.Verdict{
		Repo:           repo.String(),
		Digest:         m.Digest,
		Result:         string(ev.Verdict.Result),
		BeforeFirewall: before,
		JudgedAt:       now,
	}
	if v.Evidence, err = json.Marshal(ev); err != nil {
		return v, fmt.Errorf("encode evidence: %w", err)
	}
	v.Vulns = ev.vulns()
	var id string
	if policy.Result(v.Result).Blocks() {
		if id, err = f.quarantine(ctx, repo, ref, v, ev, who); err != nil {
			return v, err
		}
	}
	if err := f.st.PutVerdict(ctx, v, p.blobs()); err != nil {
		return v, err
	}
	return v, f.record(ctx, v, ev, id, actorFirewall)
}

// evaluate matches an inspection against the vulnerability data and
// applies the policies. keep says the image must not be blocked: it was
// cached before the firewall, or served already while BlockServed is off.
func (f *Firewall) evaluate(
	ctx context.Context,
	repo string,
	d digest.Digest,
	in inspection,
	keep bool,
) (Evidence, error) {
	ev := Evidence{InspectionError: in.Error, Created: in.Created, Platform: in.Platform}
	input := policy.Input{
		Digest:     d,
		Repository: repo,
		Policies:   f.Policies(),
		Created:    in.Created,
		Now:        f.opts.Now(),
	}
	set := f.opts.Settings.For(repo)
	input.Mode, input.FailOpen = set.Mode, set.FailOpen

	if in.Error != "" {
		input.InspectionErr = errors.New(in.Error)
	} else {
		findings, err := f.opts.VulnDB.Match(ctx, in.Inventory)
		if err != nil {
			return ev, fmt.Errorf("match %s: %w", d, err)
		}
		ev.Findings, ev.Components = findings, len(in.Inventory.Components)
		input.Findings, input.Components = findings, ev.Components
	}

	input.CachedBeforeFirewall = keep
	// Waivers are left out on purpose: the stored result is what the
	// image deserves, and a waiver is applied on each request, so it can
	// expire or be withdrawn.
	ev.Verdict = policy.Decide(input)
	return ev, nil
}

// cachedBefore reports whether repo's manifest d was cached before the
// firewall was first enabled.
func (f *Firewall) cachedBefore(ctx context.Context, repo string, d digest.Digest) bool {
	mf, err := f.opts.Meta.Manifest(ctx, repo, d)
	return err == nil && !mf.CachedAt.IsZero() && mf.CachedAt.Before(f.since)
}

// quarantine creates the record of a withheld image and returns its id (an
// earlier record's, if the image has one). It runs before the verdict is
// stored, so a client withheld by the verdict always finds the record.
//
// A platform manifest pulled by digest (what docker does after fetching
// the index by tag) is recorded with a cached tag of its index, if one is
// found.
func (f *Firewall) quarantine(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	v store.Verdict,
	ev Evidence,
	who Requester,
) (string, error) {
	tag := ref.Tag
	if tag == "" {
		tag = f.tagOf(ctx, v.Repo, v.Digest)
	}
	severity, score := ev.highest()
	return f.st.PutQuarantine(ctx, store.Quarantine{
		ID:            newID(),
		Upstream:      repo.Upstream,
		Repo:          v.Repo,
		Tag:           tag,
		Digest:        v.Digest,
		Platform:      ev.Platform,
		RequestedAt:   f.opts.Now(),
		RequestedBy:   who.Name(),
		RequestedFrom: who.Address,
		Policies:      failed(ev.Verdict),
		Severity:      severity,
		MaxScore:      score,
		Evidence:      v.Evidence,
	})
}

// maxTagSearch bounds the cached tags tagOf looks at; a repository is
// rarely pulled through under more.
const maxTagSearch = 100

// tagOf returns a cached tag of repo that points at d or at an index
// listing d, or "" if none is found. It is best effort: the record is
// useful without a tag.
//
// TODO: the cache keeps no link from a child manifest back to the tags of
// its indexes, so this reads up to maxTagSearch tags and their indexes.
func (f *Firewall) tagOf(ctx context.Context, repo string, d digest.Digest) string {
	tags, err := f.opts.Meta.Tags(ctx, repo, "", maxTagSearch)
	if err != nil {
		return ""
	}
	for _, name := range tags {
		t, err := f.opts.Meta.Tag(ctx, repo, name)
		if err != nil {
			continue
		}
		if t.Digest == d || (oci.IsIndex(t.MediaType) && f.indexLists(ctx, t.Digest, d)) {
			return name
		}
	}
	return ""
}

// indexLists reports whether the stored index idx lists manifest d.
func (f *Firewall) indexLists(ctx context.Context, idx, d digest.Digest) bool {
	r, _, err := f.opts.Blobs.Open(ctx, idx)
	if err != nil {
		return false
	}
	defer r.Close()
	var m manifestJSON
	if json.NewDecoder(io.LimitReader(r, maxConfigSize)).Decode(&m) != nil {
		return false
	}
	for _, c := range m.Manifests {
		if c.Digest == d {
			return true
		}
	}
	return false
}

// record writes the audit entries of a stored verdict; id names its
// quarantine record, empty if it has none.
func (f *Firewall) record(ctx context.Context, v store.Verdict, ev Evidence, id, actor string) error {
	upstream, _, _ := strings.Cut(v.Repo, "/")
	f.opts.Metrics.Verdict(upstream, v.Result, ev.Verdict.Reason, id != "")
	if err := f.audit(ctx, actor, ActionJudged, v.Repo, v.Digest, summary(ev)); err != nil {
		return err
	}
	switch {
	case id != "":
		f.log.Info("image quarantined",
			telemetry.KeyRepo, v.Repo,
			telemetry.KeyDigest, v.Digest.String(),
			telemetry.KeyRule, ev.Verdict.Reason,
			telemetry.KeyQuarantineID, id)
		return f.audit(ctx, actor, ActionQuarantined, v.Repo, v.Digest, "id="+id+" reason="+ev.Verdict.Reason)
	case len(ev.Verdict.Matches) > 0 || ev.InspectionError != "":
		return f.audit(ctx, actor, ActionViolation, v.Repo, v.Digest, summary(ev))
	}
	return nil
}

// failed names the policies that fired with action fail, or the failed
// inspection.
func failed(v policy.Verdict) []string {
	var names []string
	for _, m := range v.Matches {
		if m.Action != policy.ActionWarn && m.Action != policy.ActionNone {
			names = append(names, m.Policy)
		}
	}
	if len(names) == 0 && v.Reason != "" {
		names = append(names, v.Reason)
	}
	return names
}

// summary is an audit entry's details for a verdict.
func summary(ev Evidence) string {
	var fired []string
	for _, m := range ev.Verdict.Matches {
		fired = append(fired, m.Policy+":"+string(m.Action))
	}
	s := fmt.Sprintf("result=%s reason=%s policies=%s components=%d findings=%d malware=%d",
		ev.Verdict.Result, ev.Verdict.Reason, strings.Join(fired, ","), ev.Components, len(ev.Findings), ev.Malware())
	if ev.Verdict.CachedBeforeFirewall {
		s += " cached_before_firewall=true"
	}
	if ev.InspectionError != "" {
		s += " inspection_error=" + ev.InspectionError
	}
	return s
}

// audit appends one entry to the audit log.
func (f *Firewall) audit(ctx context.Context, actor, action, repo string, d digest.Digest, details string) error {
	return f.st.AppendAudit(ctx, store.AuditEntry{
		At: f.opts.Now(), Actor: actor, Action: action, Repo: repo, Digest: d, Details: details,
	})
}

// newID returns a short random quarantine id: 12 hex digits, enough that
// ids never collide in one registry's lifetime.
func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
