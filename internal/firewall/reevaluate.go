package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
// are left as they are.
func (f *Firewall) Reevaluate(ctx context.Context) (int, error) {
	if f.opts.VulnDB == nil {
		return 0, errors.New("reevaluate: firewall has no vulnerability database")
	}
	if err := f.Ready(ctx); err != nil {
		return 0, fmt.Errorf("reevaluate: %w", err)
	}
	changed := 0
	var last store.VerdictKey
	for {
		vs, err := f.st.Verdicts(ctx, last, reevaluatePage)
		if err != nil {
			return changed, err
		}
		for _, v := range vs {
			n, err := f.reevaluate(ctx, v)
			if err != nil {
				return changed, fmt.Errorf("reevaluate %s@%s: %w", v.Repo, v.Digest, err)
			}
			changed += n
		}
		if len(vs) < reevaluatePage {
			return changed, nil
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
	nowBlocked := policy.Result(v.Result).Blocks()
	var id string
	if !wasBlocked && nowBlocked {
		if id, err = f.quarantine(ctx, splitRepo(v.Repo), oci.Reference{}, v, ev, ""); err != nil {
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
