package store

import (
	"context"
	"errors"
	"time"
)

// ErrExists is returned, possibly wrapped, when a record to be added has a
// name that is already taken.
var ErrExists = errors.New("already exists")

// AdminRole is the role the store never leaves without a user: UpdateUser
// and DeleteUser refuse, with ErrLastAdmin, a change that would take it
// from its last holder. Checking and changing in one step is what keeps
// two concurrent demotions of the last two admins from both passing.
const AdminRole = "admin"

// ErrLastAdmin is returned, possibly wrapped, for a change that would
// leave no user with AdminRole.
var ErrLastAdmin = errors.New("last admin")

// User is an account. Role is "reader" or "admin"; the store keeps it as
// text and leaves its meaning to package auth. PasswordHash is a bcrypt
// hash.
type User struct {
	Name               string
	Role               string
	PasswordHash       []byte
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// UserChange is what UpdateUser changes in a user; nil fields stay as
// stored, so a password change cannot undo a role change made meanwhile.
type UserChange struct {
	Role               *string
	PasswordHash       []byte
	MustChangePassword *bool
	UpdatedAt          time.Time
}

// Token is an API token of a user. Hash is the SHA-256 of the secret; the
// secret itself is never stored. A zero ExpiresAt never expires, a zero
// LastUsedAt was never used. Name is unique per user, ID unique overall.
type Token struct {
	ID         string
	User       string
	Name       string
	Hash       []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
}

// Session is a dashboard login. ID is the SHA-256 (hex) of the cookie
// value; the cookie itself is never stored.
type Session struct {
	ID        string
	User      string
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Access keeps users, API tokens, sessions and named secrets.
// Implementations are safe for concurrent use, also by several processes
// on the same storage (a CLI adding a user while the server runs), so
// callers read again rather than cache. Deleting a user deletes its tokens
// and sessions with it. Times come back in UTC with at least microsecond
// precision, as for Meta.
type Access interface {
	// AddUser creates u, or returns ErrExists when the name is taken.
	AddUser(ctx context.Context, u User) error
	// User returns the user called name, or ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// Users lists every user by name.
	Users(ctx context.Context) ([]User, error)
	// UpdateUser applies c to an existing user, or returns ErrNotFound, or
	// ErrLastAdmin when it would make the last admin something else.
	UpdateUser(ctx context.Context, name string, c UserChange) error
	// DeleteUser removes a user with its tokens and sessions, or returns
	// ErrNotFound, or ErrLastAdmin for the last admin.
	DeleteUser(ctx context.Context, name string) error

	// AddToken records t, or returns ErrExists when its user already has a
	// token of that name (or the ID is taken), ErrNotFound when the user
	// does not exist.
	AddToken(ctx context.Context, t Token) error
	// Token returns the token with id, or ErrNotFound.
	Token(ctx context.Context, id string) (Token, error)
	// Tokens lists the tokens of user ("" for every user's) by user, then
	// name.
	Tokens(ctx context.Context, user string) ([]Token, error)
	// DeleteToken removes the token user calls name, returning its ID, or
	// ErrNotFound.
	DeleteToken(ctx context.Context, user, name string) (string, error)
	// TouchToken records that token id was used at t. The latest time
	// wins; a missing token is not an error.
	TouchToken(ctx context.Context, id string, t time.Time) error

	// AddSession records s, or returns ErrNotFound when its user does not
	// exist (ErrExists for an ID already taken).
	AddSession(ctx context.Context, s Session) error
	// Session returns the session with id, or ErrNotFound. It does not look
	// at ExpiresAt: that is the caller's rule.
	Session(ctx context.Context, id string) (Session, error)
	// DeleteSession removes one session; a missing one is not an error.
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions removes every session of user and returns how many.
	DeleteSessions(ctx context.Context, user string) (int, error)
	// DeleteExpiredSessions removes the sessions that expired at or before
	// t and returns how many.
	DeleteExpiredSessions(ctx context.Context, t time.Time) (int, error)

	// Secret returns the secret called name, creating it with gen when
	// there is none. Concurrent callers, also in other processes, all get
	// the one secret that was stored first.
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}
