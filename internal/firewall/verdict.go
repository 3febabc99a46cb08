package firewall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/store"
)

// Judgement is a stored verdict with its evidence, as a command prints it.
type Judgement struct {
	Repo   string        `json:"repository"`
	Digest digest.Digest `json:"digest"`
	// Result is the verdict the image deserves; Served says whether it is
	// served now, which a waiver can allow despite Result.
	Result         policy.Result `json:"result"`
	Served         bool          `json:"served"`
	Artifact       bool          `json:"artifact,omitempty"`
	BeforeFirewall bool          `json:"cached_before_firewall,omitempty"`
	JudgedAt       time.Time     `json:"judged_at"`
	// FirstServedAt is the first pull the verdict itself let through.
	FirstServedAt time.Time `json:"first_served_at,omitzero"`
	Evidence      Evidence  `json:"evidence"`
}

// Verdict returns the stored verdict of image d in the canonical
// repository repo, or an error wrapping store.ErrNotFound.
func (f *Firewall) Verdict(ctx context.Context, repo string, d digest.Digest) (Judgement, error) {
	v, err := f.st.Verdict(ctx, repo, d)
	if err != nil {
		return Judgement{}, err
	}
	return f.judgement(ctx, v)
}

func (f *Firewall) judgement(ctx context.Context, v store.Verdict) (Judgement, error) {
	ev, err := decodeEvidence(v.Evidence)
	if err != nil {
		return Judgement{}, err
	}
	served, err := f.serveable(ctx, v)
	if err != nil {
		return Judgement{}, err
	}
	return Judgement{
		Repo: v.Repo, Digest: v.Digest, Result: policy.Result(v.Result), Served: served,
		Artifact: v.Artifact, BeforeFirewall: v.BeforeFirewall,
		JudgedAt: v.JudgedAt, FirstServedAt: v.ServedAt, Evidence: ev,
	}, nil
}

// Judge returns the verdict of image manifest m of repo, inspecting the
// image first if it has none, as a first pull would but waiting until ctx
// ends rather than Options.Wait: for a command such as breakwater scan.
// An index has no verdict of its own; judge each platform's manifest.
func (f *Firewall) Judge(
	ctx context.Context,
	repo cache.Repo,
	ref oci.Reference,
	m *cache.Manifest,
) (Judgement, error) {
	p := parseManifest(m.Body)
	if p.isIndex(m.MediaType) {
		return Judgement{}, fmt.Errorf("judge %s@%s: an index is judged per platform manifest: %w", repo, m.Digest, oci.ErrUnsupported)
	}
	if f.opts.Cache == nil || f.opts.VulnDB == nil {
		return Judgement{}, errNoPipeline
	}
	v, err := f.st.Verdict(ctx, repo.String(), m.Digest)
	if errors.Is(err, store.ErrNotFound) {
		select {
		case r := <-f.flight(ctx, repo, ref, m):
			err = r.Err
			if err == nil {
				v = r.Val.(store.Verdict)
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		return Judgement{}, fmt.Errorf("judge %s@%s: %w", repo, m.Digest, err)
	}
	return f.judgement(ctx, v)
}
