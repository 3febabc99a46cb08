package admin

import (
	"context"
	"errors"
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

// SetPassword sets another user's password; admins only. The CLI, which
// works on the data directory itself, may set anyone's. Users change their
// own with ChangeOwnPassword, which asks for the current one.
func (s *Service) SetPassword(ctx context.Context, p auth.Principal, name, password string) error {
	if err := admin(p); err != nil {
		return err
	}
	if name == p.User && p.Via != auth.ViaCLI {
		return invalidf("to change your own password, give the current one too")
	}
	return s.setPassword(ctx, p, name, password)
}

// ChangeOwnPassword sets p's own password once current proves p knows the
// one in force, checked under client's login limit: a session or an API
// token must not be enough to take the account over. A user who must
// change a password someone else chose may leave current empty in a
// dashboard session, which that password opened moments before.
func (s *Service) ChangeOwnPassword(ctx context.Context, p auth.Principal, current, password, client string) error {
	if p.User == "" || p.Via == auth.ViaAnonymous {
		return ErrForbidden
	}
	skip := false
	if current == "" && p.Via == auth.ViaSession {
		u, err := s.opts.Auth.GetUser(ctx, p.User)
		if err != nil {
			return err
		}
		skip = u.MustChangePassword
	}
	if !skip {
		if current == "" {
			return invalidf("give the current password to change it")
		}
		switch err := s.opts.Auth.VerifyPassword(ctx, p.User, current, client); {
		case errors.Is(err, auth.ErrBadCredentials):
			return invalidf("the current password is wrong")
		case err != nil:
			return err
		}
	}
	return s.setPassword(ctx, p, p.User, password)
}

func (s *Service) setPassword(ctx context.Context, p auth.Principal, name, password string) error {
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
