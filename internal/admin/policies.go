package admin

import (
	"context"
	"errors"

	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/policy"
)

// Policies returns the policies in force: those set at run time, else the
// configuration's. With the firewall off they are the configuration's,
// which judge nothing.
func (s *Service) Policies(ctx context.Context) (policy.Set, error) {
	if s.opts.Firewall == nil {
		return s.opts.Config.Policies, nil
	}
	return s.opts.Firewall.Policies(), nil
}

// SetPolicies replaces the policies in force with set, for admins; the
// firewall validates them (ErrInvalid), keeps them across restarts,
// records the change in the audit log and judges cached images again.
func (s *Service) SetPolicies(ctx context.Context, p auth.Principal, set policy.Set) error {
	if err := admin(p); err != nil {
		return err
	}
	fw, err := s.firewall()
	if err != nil {
		return err
	}
	if err := fw.SetPolicies(ctx, set, p.User); err != nil {
		if errors.Is(err, firewall.ErrInvalid) {
			return invalidf("%w", err)
		}
		return err
	}
	return nil
}

// ResetPolicies drops the policies set at run time, for admins, so the
// configuration's apply again; the firewall records it and judges cached
// images again.
func (s *Service) ResetPolicies(ctx context.Context, p auth.Principal) error {
	if err := admin(p); err != nil {
		return err
	}
	fw, err := s.firewall()
	if err != nil {
		return err
	}
	return fw.ResetPolicies(ctx, p.User)
}
