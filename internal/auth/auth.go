// Package auth decides who a caller is: users with a role (reader or
// admin) and a bcrypt password, API tokens (secrets of the form
// bw_<id>_<random>, of which only the SHA-256 is stored), dashboard login
// sessions with a CSRF token, login rate limiting, and the first admin
// created on first start. It also holds the Docker token service and the
// registry's guard (token.go, guard.go), which build on the same Service.
//
// Records live in a store.Access, so every process on a data directory
// (serve, the user and token commands) sees the same users at once; the
// login rate limiter alone is in memory, per process.
//
// Files: auth.go holds the types and New, users.go users and passwords,
// apitoken.go API tokens, authenticate.go checking credentials,
// session.go login sessions, limit.go the login rate limiter,
// bootstrap.go the first admin, request.go credentials of an HTTP request
// and context.go the principal in a context.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Role is what a user may do: a reader pulls and reads, an admin also
// changes things.
type Role string

// The roles.
const (
	RoleReader Role = "reader"
	RoleAdmin  Role = "admin"
)

// ParseRole returns the role named s, or ErrInvalid.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleReader, RoleAdmin:
		return r, nil
	}
	return "", invalidf("role must be reader or admin, not %q", s)
}

// How a principal proved who it is (Principal.Via).
const (
	ViaPassword  = "password"
	ViaToken     = "token"
	ViaSession   = "session"
	ViaAnonymous = "anonymous"
	// ViaCLI is an operator's command on the data directory itself.
	ViaCLI = "cli"
)

// Principal is who made a request. The zero Principal is nobody.
type Principal struct {
	User string
	Role Role
	// Via is how the principal authenticated: password, token, session or
	// anonymous.
	Via string
	// TokenID is the API token's ID when Via is token.
	TokenID string
}

// IsAdmin reports whether p may change things.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

var (
	// ErrBadCredentials is returned when credentials are missing, unknown,
	// wrong, revoked or expired. It never says which, so it leaks nothing
	// about which users exist.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrRateLimited is returned when a client has failed too often; the
	// error is a *RateLimitError that says when to try again.
	ErrRateLimited = errors.New("too many failed attempts")
	// ErrInvalid is returned, wrapped with what is wrong, for bad input: a
	// malformed name, a short password, an unknown role, removing the last
	// admin.
	ErrInvalid = errors.New("invalid")
	// ErrExists is store.ErrExists: a user or token name already taken.
	ErrExists = store.ErrExists
)

// User is an account as others see it: without its password hash.
type User struct {
	Name               string
	Role               Role
	MustChangePassword bool
	CreatedAt          time.Time
}

// TokenInfo describes an API token without its secret or hash. A zero
// ExpiresAt never expires; a zero LastUsedAt was never used.
type TokenInfo struct {
	ID         string
	User       string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
}

// Session is a dashboard login as the dashboard needs it.
type Session struct {
	User string
	// CSRF must come back with every state-changing request of the
	// session (a form field or header); the dashboard checks it.
	CSRF string
	// MustChangePassword is the user's flag now, not at login: the
	// dashboard sends such a user to the password form.
	MustChangePassword bool
	CreatedAt          time.Time
	ExpiresAt          time.Time
}

// Options configure a Service. Store is required.
type Options struct {
	Store  store.Access
	Logger *slog.Logger
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
	// SessionTTL is how long a login session lasts (default 12h).
	SessionTTL time.Duration
	// LoginLimit is how many failed logins per minute one client may make
	// for one user before it is refused for a while (default 10).
	LoginLimit int
	// PasswordCost is the bcrypt cost of new password hashes (default
	// bcrypt.DefaultCost). Tests lower it: under the race detector one
	// hash at the default cost takes seconds.
	PasswordCost int
}

// Defaults of Options.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultLoginLimit = 10
)

// Service is users, tokens and sessions over a store. Safe for concurrent
// use.
type Service struct {
	store   store.Access
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	cost    int
	limiter *limiter
	// dummyHash is compared against when a user does not exist, so an
	// unknown name costs as much time as a wrong password.
	dummyHash []byte
}

// New returns a Service over opts.Store.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	s := &Service{
		store: opts.Store,
		log:   telemetry.OrDiscard(opts.Logger),
		now:   opts.Now,
		ttl:   opts.SessionTTL,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	limit := opts.LoginLimit
	if limit <= 0 {
		limit = DefaultLoginLimit
	}
	s.limiter = newLimiter(limit, time.Minute, maxLimiterKeys)
	s.cost = opts.PasswordCost
	if s.cost == 0 {
		s.cost = bcrypt.DefaultCost
	}
	if s.cost < bcrypt.MinCost || s.cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("auth: PasswordCost %d is not between %d and %d", s.cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	h, err := s.hashPassword(randomString(24))
	if err != nil {
		return nil, err
	}
	s.dummyHash = h
	return s, nil
}

// actor names who is acting for the logs: the principal in ctx (the CLI
// passes "cli:<login>"), or "local" when a caller gave none.
func actor(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok && p.User != "" {
		return p.User
	}
	return "local"
}

// invalidError is bad input: its text is the plain message, and it still
// matches ErrInvalid, so callers can show it as is.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{err: fmt.Errorf(format, args...)}
}
