package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "breakwater_session"

// Lengths of the random session cookie and CSRF token, in base62
// characters (about 255 bits each).
const (
	cookieLen = 43
	csrfLen   = 43
)

// sessionID is how a cookie is found in the store: its SHA-256 in hex, so
// a copy of the database holds no usable cookie.
func sessionID(cookie string) string { return hex.EncodeToString(sha256Sum(cookie)) }

// Login checks user's password and starts a session, returning the cookie
// value to set. API tokens are not accepted: a session is for a person.
// client (the remote address) and user share a failure budget of
// Options.LoginLimit per minute; over it Login returns a *RateLimitError
// without checking the password. A wrong user or password is
// ErrBadCredentials.
func (s *Service) Login(ctx context.Context, user, password, client string) (string, error) {
	key := limitKey(client, user)
	now := s.now()
	if err := s.limiter.check(key, now); err != nil {
		return "", err
	}
	p, err := s.checkPassword(ctx, user, password)
	if errors.Is(err, ErrBadCredentials) {
		s.limiter.fail(key, now)
		s.log.InfoContext(ctx, "login failed", telemetry.KeyUser, user, telemetry.KeyRemote, client)
		return "", err
	}
	if err != nil {
		return "", err
	}
	s.limiter.reset(key)

	// Sweep sessions that ended without a logout; logins are rare enough.
	if _, err := s.store.DeleteExpiredSessions(ctx, now.UTC()); err != nil {
		s.log.WarnContext(ctx, "delete expired sessions", telemetry.KeyError, err)
	}
	cookie := randomString(cookieLen)
	err = s.store.AddSession(ctx, store.Session{
		ID: sessionID(cookie), User: p.User, CSRF: randomString(csrfLen),
		CreatedAt: now.UTC(), ExpiresAt: now.Add(s.ttl).UTC(),
	})
	if err != nil {
		return "", fmt.Errorf("start session of %s: %w", user, err)
	}
	s.log.InfoContext(ctx, "login", telemetry.KeyUser, p.User, telemetry.KeyRemote, client)
	return cookie, nil
}

// Session returns the principal and session of cookie, or
// ErrBadCredentials when there is none, it expired (and is deleted) or its
// user is gone. The role is the user's current one.
func (s *Service) Session(ctx context.Context, cookie string) (Principal, Session, error) {
	if cookie == "" {
		return Principal{}, Session{}, ErrBadCredentials
	}
	id := sessionID(cookie)
	ss, err := s.store.Session(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, Session{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, Session{}, fmt.Errorf("look up session: %w", err)
	}
	if !s.now().Before(ss.ExpiresAt) {
		if err := s.store.DeleteSession(ctx, id); err != nil {
			s.log.WarnContext(ctx, "delete expired session", telemetry.KeyError, err)
		}
		return Principal{}, Session{}, fmt.Errorf("%w: session expired", ErrBadCredentials)
	}
	u, err := s.store.User(ctx, ss.User)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, Session{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, Session{}, fmt.Errorf("look up user: %w", err)
	}
	p := Principal{User: u.Name, Role: Role(u.Role), Via: ViaSession}
	return p, Session{
		User: u.Name, CSRF: ss.CSRF, MustChangePassword: u.MustChangePassword,
		CreatedAt: ss.CreatedAt, ExpiresAt: ss.ExpiresAt,
	}, nil
}

// Logout ends the session of cookie; an unknown one is not an error.
func (s *Service) Logout(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	if err := s.store.DeleteSession(ctx, sessionID(cookie)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}
