package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/store"
)

// Authenticate checks secret, the password of user or one of user's API
// tokens, and returns the principal. A token must belong to user: docker
// login sends the name typed with the token, and a token used under
// another name is refused. A user who must change the password may still
// authenticate here (registry pulls, the API); only the dashboard insists
// on the change. Any failure is ErrBadCredentials, taking about as long
// whether or not the user exists. It is not rate limited; see
// AuthenticateClient.
func (s *Service) Authenticate(ctx context.Context, user, secret string) (Principal, error) {
	if id, ok := parseToken(secret); ok {
		p, err := s.checkToken(ctx, id, secret, user)
		if err == nil || !errors.Is(err, ErrBadCredentials) {
			return p, err
		}
		// Not a valid token: the password check below still runs, so an
		// unlucky password of token shape works and timing stays even.
	}
	return s.checkPassword(ctx, user, secret)
}

// AuthenticateClient is Authenticate with the login rate limit of client
// (an address) and user: after too many failures it returns a
// *RateLimitError without checking the secret. The token service uses it
// for docker login.
func (s *Service) AuthenticateClient(ctx context.Context, user, secret, client string) (Principal, error) {
	return s.limited(client, user, func() (Principal, error) { return s.Authenticate(ctx, user, secret) })
}

// VerifyPassword checks that password is user's password now, under the
// login limit of client. Unlike AuthenticateClient it takes no API token:
// it is the proof asked for before a password change, which a token or a
// borrowed session must not stand in for.
func (s *Service) VerifyPassword(ctx context.Context, user, password, client string) error {
	_, err := s.limited(client, user, func() (Principal, error) { return s.checkPassword(ctx, user, password) })
	return err
}

// limited runs check under the login limit of client and user: refused
// at once while limited, a bad credential counts as a failure, a good one
// clears the count.
func (s *Service) limited(client, user string, check func() (Principal, error)) (Principal, error) {
	key := limitKey(client, user)
	if err := s.limiter.check(key, s.now()); err != nil {
		return Principal{}, err
	}
	p, err := check()
	switch {
	case errors.Is(err, ErrBadCredentials):
		s.limiter.fail(key, s.now())
	case err == nil:
		s.limiter.reset(key)
	}
	return p, err
}

// checkToken checks the token with id against secret. A non-empty user
// must own it.
func (s *Service) checkToken(ctx context.Context, id, secret, user string) (Principal, error) {
	t, err := s.store.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up token: %w", err)
	}
	if subtle.ConstantTimeCompare(t.Hash, sha256Sum(secret)) != 1 {
		return Principal{}, ErrBadCredentials
	}
	if user != "" && user != t.User {
		return Principal{}, fmt.Errorf("%w: token used with another user name", ErrBadCredentials)
	}
	return s.tokenPrincipal(ctx, t)
}

// checkPassword compares password with user's hash; an unknown user is
// compared with a dummy hash so it costs the same.
func (s *Service) checkPassword(ctx context.Context, user, password string) (Principal, error) {
	u, err := s.store.User(ctx, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("look up user: %w", err)
	}
	hash := u.PasswordHash
	if err != nil || len(hash) == 0 {
		hash = s.dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		return Principal{}, ErrBadCredentials
	}
	return Principal{User: u.Name, Role: Role(u.Role), Via: ViaPassword}, nil
}
