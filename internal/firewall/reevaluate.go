package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// reevaluatePage is how many verdicts Reevaluate reads at once.
const reevaluatePage = 100

// Reevaluate judges every judged image again from its stored inventory
// (no layer is read), after the vulnerability data or a policy changed,
// and records what it finds that the last verdict did not. An image that
// was served stays served unless Settings.BlockServed is set; one that
// becomes blocked gets a quarantine record. It returns how many images
// have new violations.
//
// Images whose inspection failed, artifacts and repositories in mode off
// are left as they are. A firewall with a Cache also judges the images it
// served unjudged (audit mode while no data was loaded, or while the
// upstream failed), reading their layers as a pull would.
func (f *Firewall) Reevaluate(ctx context.Context) (int, error) {
	if f.opts.VulnDB == nil {
		return 0, errors.New("reevaluate: firewall has no vulnerability database")
	}
	if err := f.Ready(ctx); err != nil {
		return 0, fmt.Errorf("reevaluate: %w", err)
	}
	f.reevaluating.Lock()
	defer f.reevaluating.Unlock()
	// An image that cannot be judged now (its upstream is down) must not
	// keep the others from being judged: its error joins the result.
	changed := 0
	var unjudged error
	if f.opts.Cache != nil {
		changed, unjudged = f.judgeUnjudged(ctx)
	}
	var last store.VerdictKey
	for {
		vs, err := f.st.Verdicts(ctx, last, reevaluatePage)
		if err != nil {
			return changed, errors.Join(unjudged, err)
		}
		for _, v := range vs {
			n, err := f.reevaluate(ctx, v)
			if err != nil {
				return changed, errors.Join(unjudged, fmt.Errorf("reevaluate %s@%s: %w", v.Repo, v.Digest, err))
			}
			changed += n
		}
		if len(vs) < reevaluatePage {
			return changed, unjudged
		}
		last = store.VerdictKey{Repo: vs[len(vs)-1].Repo, Digest: vs[len(vs)-1].Digest}
	}
}

// reevaluate judges one image again; it returns 1 if there is something
// new to record.
func (f *Firewall) reevaluate(ctx context.Context, v store.Verdict) (int, error) {
	if v.Artifact || f.opts.Settings.For(v.Repo).Mode == policy.ModeOff {
		return 0, nil
	}
	b, err := f.st.Inventory(ctx, v.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	in, err := decodeInspection(b)
	if err != nil || in.Error != "" {
		return 0, err
	}
	prev, err := decodeEvidence(v.Evidence)
	if err != nil {
		return 0, err
	}

	served := !v.ServedAt.IsZero() && !f.opts.Settings.BlockServed
	ev, err := f.evaluate(ctx, v.Repo, v.Digest, in, v.BeforeFirewall || served)
	if err != nil {
		return 0, err
	}
	fresh := ev.Verdict.NewMatches(prev.Verdict)
	wasBlocked := policy.Result(v.Result).Blocks()
	v.Result, v.JudgedAt = string(ev.Verdict.Result), f.opts.Now()
	if v.Evidence, err = json.Marshal(ev); err != nil {
		return 0, fmt.Errorf("encode evidence: %w", err)
	}
	v.Vulns = ev.vulns()
	nowBlocked := policy.Result(v.Result).Blocks()
	var id string
	if !wasBlocked && nowBlocked {
		if id, err = f.quarantine(ctx, splitRepo(v.Repo), oci.Reference{}, v, ev, Requester{}); err != nil {
			return 0, err
		}
	}
	switch err := f.st.UpdateVerdict(ctx, v); {
	case errors.Is(err, store.ErrNotFound):
		// Deleted meanwhile: the next pull judges it afresh.
		if id != "" {
			return 0, f.st.DeleteQuarantine(ctx, id)
		}
		return 0, nil
	case err != nil:
		return 0, err
	}
	if len(fresh) == 0 && wasBlocked == nowBlocked {
		return 0, nil
	}

	for _, m := range fresh {
		details := fmt.Sprintf("policy=%s action=%s new_findings=%d result=%s",
			m.Policy, m.Action, len(m.Findings), v.Result)
		if err := f.audit(ctx, actorReevaluation, ActionViolation, v.Repo, v.Digest, details); err != nil {
			return 0, err
		}
	}
	if err := f.audit(ctx, actorReevaluation, ActionReevaluated, v.Repo, v.Digest, summary(ev)); err != nil {
		return 0, err
	}
	f.log.Info("image re-evaluated",
		telemetry.KeyRepo, v.Repo,
		telemetry.KeyDigest, v.Digest.String(),
		telemetry.KeyRule, ev.Verdict.Reason,
		telemetry.KeyDecision, v.Result)
	if id != "" {
		if err := f.record(ctx, v, ev, id, actorReevaluation); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

// actorReevaluation is the actor of re-evaluation's audit entries.
const actorReevaluation = "reevaluation"

// splitRepo turns a canonical name back into a cache.Repo: the upstream is
// the first path component.
func splitRepo(name string) cache.Repo {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			return cache.Repo{Upstream: name[:i], Path: name[i+1:]}
		}
	}
	return cache.Repo{Path: name}
}

// judgeUnjudged judges the images the audit log says were served without a
// verdict and that have none yet, from the manifests the cache holds. It
// returns how many of them have violations.
func (f *Firewall) judgeUnjudged(ctx context.Context) (int, error) {
	entries, err := f.st.Audit(ctx, store.AuditFilter{Action: ActionNotInspected}, 0, 0)
	if err != nil {
		return 0, err
	}
	seen := map[store.VerdictKey]bool{}
	n := 0
	var errs []error
	for _, e := range entries {
		key := store.VerdictKey{Repo: e.Repo, Digest: e.Digest}
		if seen[key] {
			continue
		}
		seen[key] = true
		v, err := f.judgeCached(ctx, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("judge %s@%s: %w", key.Repo, key.Digest, err))
			continue
		}
		if v != nil && v.Result != string(policy.ResultAllow) {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// judgeCached judges one cached image that has no verdict, or returns nil
// when there is nothing to judge: it has a verdict, its repository is off,
// or the cache no longer holds its manifest.
func (f *Firewall) judgeCached(ctx context.Context, key store.VerdictKey) (*store.Verdict, error) {
	if f.opts.Settings.For(key.Repo).Mode == policy.ModeOff {
		return nil, nil
	}
	switch _, err := f.st.Result(ctx, key.Repo, key.Digest); {
	case err == nil:
		return nil, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	rec, err := f.opts.Meta.Manifest(ctx, key.Repo, key.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := f.readStored(ctx, key.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}

	m := &cache.Manifest{
		Descriptor: oci.Descriptor{MediaType: rec.MediaType, Digest: key.Digest, Size: int64(len(body))},
		Body:       body,
	}
	select {
	case r := <-f.flight(ctx, splitRepo(key.Repo), oci.Reference{}, m):
		if r.Err != nil {
			return nil, r.Err
		}
		v := r.Val.(store.Verdict)
		return &v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maxManifestSize bounds a manifest read back from the store, as the cache
// bounds it.
const maxManifestSize = 4 << 20

// readStored reads a stored manifest's bytes.
func (f *Firewall) readStored(ctx context.Context, d digest.Digest) ([]byte, error) {
	r, _, err := f.opts.Blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", d, err)
	}
	if len(body) > maxManifestSize || digest.FromBytes(body) != d {
		return nil, fmt.Errorf("read manifest %s: too large or digest mismatch", d)
	}
	return body, nil
}
