package admin

import (
	"context"
	"time"

	"breakwater/internal/auth"
)

// Users lists every user, without password hashes. Callers let only
// admins see it.
func (s *Service) Users(ctx context.Context) ([]auth.User, error) {
	return s.opts.Auth.Users(ctx)
}

// AddUser creates a user; admins only.
func (s *Service) AddUser(ctx context.Context, p auth.Principal, name string, role auth.Role, password string) error {
	if err := admin(p); err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, p)
	if role != auth.RoleReader && role != auth.RoleAdmin {
		return invalidf("role %q is not reader or admin", role)
	}
	if err := s.opts.Auth.AddUser(ctx, name, role, password); err != nil {
		return err
	}
	return s.record(ctx, p, ActionUserAdded, "user="+name+" role="+string(role))
}

// DeleteUser removes a user with its tokens and sessions; admins only.
// Auth refuses to remove the last admin.
func (s *Service) DeleteUser(ctx context.Context, p auth.Principal, name string) error {
	if err := admin(p); err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, p)
	if err := s.opts.Auth.DeleteUser(ctx, name); err != nil {
		return err
	}
	return s.record(ctx, p, ActionUserDeleted, "user="+name)
}

// SetRole makes a user a reader or an admin; admins only. Auth refuses to
// make the last admin a reader. The change is in force at the user's next
// request, sessions and registry tokens included.
func (s *Service) SetRole(ctx context.Context, p auth.Principal, name string, role auth.Role) error {
	if err := admin(p); err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, p)
	if role != auth.RoleReader && role != auth.RoleAdmin {
		return invalidf("role %q is not reader or admin", role)
	}
	if err := s.opts.Auth.SetRole(ctx, name, role); err != nil {
		return err
	}
	return s.record(ctx, p, ActionRoleChanged, "user="+name+" role="+string(role))
}

// SetPassword changes a user's password: admins for anyone, every user
// for themself.
func (s *Service) SetPassword(ctx context.Context, p auth.Principal, name, password string) error {
	if err := selfOrAdmin(p, name); err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, p)
	if err := s.opts.Auth.SetPassword(ctx, name, password); err != nil {
		return err
	}
	return s.record(ctx, p, ActionPasswordChanged, "user="+name)
}

// Tokens lists a user's API tokens (never their secrets): admins see
// anyone's, others their own.
func (s *Service) Tokens(ctx context.Context, p auth.Principal, user string) ([]auth.TokenInfo, error) {
	if err := selfOrAdmin(p, user); err != nil {
		return nil, err
	}
	if _, err := s.opts.Auth.UserPrincipal(ctx, user); err != nil {
		return nil, err // an unknown user is not found, not an empty list
	}
	return s.opts.Auth.Tokens(ctx, user)
}

// CreateToken makes an API token for user valid for ttl (0: no expiry)
// and returns its secret, which is shown this once.
func (s *Service) CreateToken(ctx context.Context, p auth.Principal, user, name string, ttl time.Duration) (string, auth.TokenInfo, error) {
	if ttl < 0 {
		return "", auth.TokenInfo{}, invalidf("token lifetime %v is negative", ttl)
	}
	return s.createToken(ctx, p, user, name, func(ctx context.Context) (string, auth.TokenInfo, error) {
		return s.opts.Auth.CreateToken(ctx, user, name, ttl)
	})
}

// CreateTokenUntil is CreateToken for a token that ends at until.
func (s *Service) CreateTokenUntil(ctx context.Context, p auth.Principal, user, name string, until time.Time) (string, auth.TokenInfo, error) {
	return s.createToken(ctx, p, user, name, func(ctx context.Context) (string, auth.TokenInfo, error) {
		return s.opts.Auth.CreateTokenUntil(ctx, user, name, until)
	})
}

func (s *Service) createToken(ctx context.Context, p auth.Principal, user, name string,
	create func(context.Context) (string, auth.TokenInfo, error)) (string, auth.TokenInfo, error) {
	if err := selfOrAdmin(p, user); err != nil {
		return "", auth.TokenInfo{}, err
	}
	ctx = auth.WithPrincipal(ctx, p)
	secret, info, err := create(ctx)
	if err != nil {
		return "", auth.TokenInfo{}, err
	}
	if err := s.record(ctx, p, ActionTokenCreated, "user="+user+" token="+name); err != nil {
		return "", auth.TokenInfo{}, err
	}
	return secret, info, nil
}

// RevokeToken ends a user's API token: admins anyone's, others their own.
func (s *Service) RevokeToken(ctx context.Context, p auth.Principal, user, name string) error {
	if err := selfOrAdmin(p, user); err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, p)
	if err := s.opts.Auth.RevokeToken(ctx, user, name); err != nil {
		return err
	}
	return s.record(ctx, p, ActionTokenRevoked, "user="+user+" token="+name)
}
