package firewall

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Manifest is the registry's gate for a manifest about to be served: nil
// serves it, an error is what the client gets instead.
func (f *Firewall) Manifest(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	m *cache.Manifest,
) error {
	set := f.opts.Settings.For(repo.String())
	if set.Mode == policy.ModeOff {
		noteOutcome(ctx, outcome{result: ResultOff})
		return nil
	}
	p := parseManifest(m.Body)
	if p.isIndex(m.MediaType) {
		return nil // each platform manifest is judged when fetched
	}

	v, err := f.st.Result(ctx, repo.String(), m.Digest)
	if errors.Is(err, store.ErrNotFound) {
		v, err = f.judge(ctx, repo, ref, m, set)
		switch {
		case errors.Is(err, errUnjudged):
			noteOutcome(ctx, outcome{result: ResultNotInspected})
			return nil
		case errors.Is(err, errInspecting):
			noteOutcome(ctx, outcome{result: ResultInspecting})
		case err != nil:
			noteOutcome(ctx, outcome{result: ResultNotInspected})
		}
	}
	if err != nil {
		return err
	}
	return f.admit(ctx, v, set)
}

// admit serves or withholds an image by its stored verdict and the waiver
// in force now, and notes when it was first served. An image served only
// by a waiver is not noted: re-evaluation keeps served images served, and
// that must not outlast the waiver.
func (f *Firewall) admit(ctx context.Context, v store.Verdict, set policy.Settings) error {
	ok, err := f.serveable(ctx, v)
	if err != nil {
		return err
	}
	waived := ok && blocks(policy.Result(v.Result), set)
	noteOutcome(ctx, outcome{result: v.Result, waived: waived})
	if !ok {
		return f.blocked(ctx, v, set)
	}
	if v.ServedAt.IsZero() && !waived {
		if err := f.st.MarkServed(ctx, v.Repo, v.Digest, f.opts.Now()); err != nil {
			return err
		}
	}
	return nil
}

// serveable reports whether v lets its image be served now: a verdict that
// does not block under the repository's settings in force (a repository
// switched to audit, or to fail open, serves what it withheld before), or
// a waiver for the digest that has not expired.
func (f *Firewall) serveable(ctx context.Context, v store.Verdict) (bool, error) {
	if !blocks(policy.Result(v.Result), f.opts.Settings.For(v.Repo)) {
		return true, nil
	}
	w, err := f.st.Waiver(ctx, v.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return waiverInForce(w, f.opts.Now()), nil
}

// blocked builds the client's error for a withheld image.
func (f *Firewall) blocked(ctx context.Context, v store.Verdict, set policy.Settings) error {
	if v.Evidence == nil {
		full, err := f.st.Verdict(ctx, v.Repo, v.Digest)
		if err != nil {
			return err
		}
		v = full
	}
	ev, err := decodeEvidence(v.Evidence)
	if err != nil {
		return err
	}
	e := &BlockedError{Repo: v.Repo, Digest: v.Digest, Reason: ev.Verdict.Reason, Show: set.ShowReason}
	if e.Reason == "" {
		e.Reason = policy.ReasonUnnamed
	}
	recs, err := f.st.Quarantines(ctx, store.QuarantineFilter{Repo: v.Repo, Digest: v.Digest}, 0, 1)
	if err != nil {
		return err
	}
	if len(recs) > 0 {
		e.ID = recs[0].ID
	}
	f.log.Info("image withheld",
		telemetry.KeyRepo, v.Repo,
		telemetry.KeyDigest, v.Digest.String(),
		telemetry.KeyRule, e.Reason,
		telemetry.KeyDecision, v.Result)
	return e
}

// Blob is the registry's gate for a blob: it is served only when an image
// of repo that may be served references it.
func (f *Firewall) Blob(ctx context.Context, repo cache.Repo, d digest.Digest) error {
	set := f.opts.Settings.For(repo.String())
	if set.Mode == policy.ModeOff {
		return nil
	}
	// The store lists images whose result serves first, so for a base
	// layer shared by thousands of images one owner usually answers.
	first, err := f.st.BlobOwners(ctx, repo.String(), d, 1)
	if err != nil {
		return err
	}
	if len(first) == 1 && !first[0].Artifact && !blocks(policy.Result(first[0].Result), set) {
		return nil
	}
	owners, err := f.st.BlobOwners(ctx, repo.String(), d, 0)
	if err != nil {
		return err
	}
	if len(owners) == 0 {
		// No judged image references it: in audit mode that is an image
		// served while no verdict could be made; in quarantine mode
		// nothing vouches for the blob.
		if set.Mode == policy.ModeAudit {
			return nil
		}
		return fmt.Errorf("blob %s of %s belongs to no judged image: %w", d, repo, oci.ErrBlobUnknown)
	}

	artifacts := 0
	for _, o := range owners {
		ok, err := f.serveable(ctx, o)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			// A withheld owner cannot be outvoted by an artifact below.
		case o.Artifact:
			artifacts++
		default:
			return nil
		}
	}
	if artifacts == len(owners) {
		return nil
	}
	return fmt.Errorf("blob %s of %s belongs only to withheld images: %w", d, repo, oci.ErrBlobUnknown)
}

// blocks reports whether a stored result withholds its image under set.
// A result this binary does not know (written by a newer one) withholds in
// quarantine mode: failing closed is the firewall's default.
func blocks(r policy.Result, set policy.Settings) bool {
	switch r {
	case policy.ResultAllow, policy.ResultAudit:
		return false
	case policy.ResultInspectionFailed:
		return set.Mode == policy.ModeQuarantine && !set.FailOpen
	default:
		return set.Mode == policy.ModeQuarantine
	}
}
