package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Audit actions of policy changes.
const (
	ActionPoliciesUpdated = "policies-updated"
	ActionPoliciesReset   = "policies-reset"
)

// ErrInvalid is returned, wrapped, for a request the firewall refuses as
// malformed: policies that fail validation, a filter with an unknown
// severity or order.
var ErrInvalid = errors.New("invalid")

// loadPolicies puts the policies in force at New: those set at run time
// and kept in the store win over Options.Policies. A stored set this
// binary cannot read or validate is logged and left aside, so a bad row
// cannot keep the registry from starting.
func (f *Firewall) loadPolicies(ctx context.Context) error {
	set := slices.Clone(f.opts.Policies)
	f.policies.Store(&set)
	b, err := f.st.Policies(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var stored policy.Set
	if err := json.Unmarshal(b, &stored); err == nil {
		err = stored.Validate()
	}
	if err != nil {
		f.log.Error("stored policies unusable, applying the configuration's", telemetry.KeyError, err)
		return nil
	}
	f.policies.Store(&stored)
	f.custom.Store(true)
	f.log.Info("policies set at run time apply instead of the configuration's",
		telemetry.KeyPolicies, policyNames(stored))
	return nil
}

// Policies returns the policies in force, a copy the caller may keep.
func (f *Firewall) Policies() policy.Set {
	return slices.Clone(*f.policies.Load())
}

// PoliciesSetAtRunTime reports whether the policies in force were set with
// SetPolicies rather than taken from the configuration.
func (f *Firewall) PoliciesSetAtRunTime() bool { return f.custom.Load() }

// SetPolicies validates set and makes it the policies in force, kept in
// the store so that a restart keeps them over the configuration's, and
// writes an audit entry naming actor. Cached images are then judged again
// in the background (see Reevaluate); a caller that wants to wait calls
// Reevaluate, which runs after the background one. Policies that fail
// validation are an error wrapping ErrInvalid and change nothing.
//
// Another process on the same store (the CLI) sees the change at its next
// start; a running server's copy changes only through its own firewall.
func (f *Firewall) SetPolicies(ctx context.Context, set policy.Set, actor string) error {
	if err := set.Validate(); err != nil {
		return fmt.Errorf("set policies: %w: %w", ErrInvalid, err)
	}
	set = slices.Clone(set)
	if set == nil {
		set = policy.Set{}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("set policies: encode: %w", err)
	}
	if err := f.st.PutPolicies(ctx, b); err != nil {
		return fmt.Errorf("set policies: %w", err)
	}
	f.policies.Store(&set)
	f.custom.Store(true)
	if err := f.audit(ctx, actor, ActionPoliciesUpdated, "", "", "policies="+strings.Join(policyNames(set), ",")); err != nil {
		return err
	}
	f.log.Info("policies updated", telemetry.KeyActor, actor, telemetry.KeyPolicies, policyNames(set))
	f.reevaluateLater()
	return nil
}

// ResetPolicies removes the policies set at run time, so the
// configuration's apply again, now and after a restart, and judges cached
// images again in the background, as SetPolicies does.
func (f *Firewall) ResetPolicies(ctx context.Context, actor string) error {
	if err := f.st.DeletePolicies(ctx); err != nil {
		return fmt.Errorf("reset policies: %w", err)
	}
	set := slices.Clone(f.opts.Policies)
	f.policies.Store(&set)
	f.custom.Store(false)
	if err := f.audit(ctx, actor, ActionPoliciesReset, "", "", "policies="+strings.Join(policyNames(set), ",")); err != nil {
		return err
	}
	f.log.Info("policies reset to the configuration's", telemetry.KeyActor, actor, telemetry.KeyPolicies, policyNames(set))
	f.reevaluateLater()
	return nil
}

// reevaluateLater runs Reevaluate detached from the request, counted as an
// inspection so Close waits for it (after cancelling it).
func (f *Firewall) reevaluateLater() {
	if f.opts.VulnDB == nil || !f.started() {
		return
	}
	go func() {
		defer f.wg.Done()
		n, err := f.Reevaluate(f.base)
		if err != nil {
			f.log.Warn("re-evaluation after a policy change", telemetry.KeyError, err, telemetry.KeyImages, n)
			return
		}
		f.log.Info("re-evaluated after a policy change", telemetry.KeyImages, n)
	}()
}

func policyNames(set policy.Set) []string {
	names := make([]string, len(set))
	for i, p := range set {
		names[i] = p.Name
	}
	return names
}
