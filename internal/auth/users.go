package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// MinPasswordLength is the shortest password accepted, in bytes.
const MinPasswordLength = 12

// maxPasswordLength is bcrypt's limit: it refuses longer input.
const maxPasswordLength = 72

// nameRE is what user and token names look like.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// CheckName returns ErrInvalid unless s is a valid user or token name:
// 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter
// or digit. what names the thing in the message ("user name").
func CheckName(what, s string) error {
	if !nameRE.MatchString(s) {
		return invalidf("%s must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit, not %q", what, s)
	}
	return nil
}

// CheckPassword returns ErrInvalid unless pw is an acceptable password:
// 12 to 72 bytes, no control characters and not only whitespace. The API,
// the CLI and the dashboard all check with it, so a password one of them
// sets can be typed into the others, the dashboard's password field
// included, which takes neither newlines nor tabs.
func CheckPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLength:
		return invalidf("password must be at least %d characters", MinPasswordLength)
	case len(pw) > maxPasswordLength:
		return invalidf("password must be at most %d bytes", maxPasswordLength)
	case strings.ContainsFunc(pw, unicode.IsControl):
		return invalidf("password must not contain control characters such as a newline, tab or NUL")
	case strings.TrimSpace(pw) == "":
		return invalidf("password must not be only whitespace")
	}
	return nil
}

func (s *Service) hashPassword(pw string) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), s.cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// AddUser creates a user with role and password. A name already taken is
// ErrExists.
func (s *Service) AddUser(ctx context.Context, name string, role Role, password string) error {
	return s.addUser(ctx, name, role, password, false, actor(ctx))
}

// addUser adds a user; who is logged as the actor.
func (s *Service) addUser(ctx context.Context, name string, role Role, password string, mustChange bool, who string) error {
	if err := CheckName("user name", name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	err = s.store.AddUser(ctx, store.User{
		Name: name, Role: string(role), PasswordHash: h, MustChangePassword: mustChange,
		CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "user added", telemetry.KeyUser, name, telemetry.KeyRole, string(role), telemetry.KeyActor, who)
	return nil
}

// SetPassword gives user name a new password, clears MustChangePassword
// and ends the user's sessions, so a stolen session does not outlive the
// password change. The session the change was made in ends too; the
// dashboard logs the user in again.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	if _, err := s.store.User(ctx, name); err != nil {
		return err // before the slow hash
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return err
	}
	c := store.UserChange{PasswordHash: hash, MustChangePassword: ptr(false), UpdatedAt: s.now().UTC()}
	if err := s.store.UpdateUser(ctx, name, c); err != nil {
		return fmt.Errorf("set password of %s: %w", name, err)
	}
	n, err := s.store.DeleteSessions(ctx, name)
	if err != nil {
		return fmt.Errorf("end sessions of %s: %w", name, err)
	}
	s.log.InfoContext(ctx, "password changed", telemetry.KeyUser, name, telemetry.KeySessions, n, telemetry.KeyActor, actor(ctx))
	return nil
}

// ExpirePassword makes user name choose a new password at the next
// dashboard login, as for one that someone else picked or that was shown
// on a terminal. Registry and API logins are not held up by it.
func (s *Service) ExpirePassword(ctx context.Context, name string) error {
	u, err := s.store.User(ctx, name)
	if err != nil {
		return err
	}
	if u.MustChangePassword {
		return nil
	}
	c := store.UserChange{MustChangePassword: ptr(true), UpdatedAt: s.now().UTC()}
	if err := s.store.UpdateUser(ctx, name, c); err != nil {
		return fmt.Errorf("expire password of %s: %w", name, err)
	}
	return nil
}

// SetRole changes the role of user name. Making the last admin a reader
// is ErrInvalid, so the instance always has someone who can manage it.
func (s *Service) SetRole(ctx context.Context, name string, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	u, err := s.store.User(ctx, name)
	if err != nil {
		return err
	}
	if Role(u.Role) == role {
		return nil
	}
	c := store.UserChange{Role: ptr(string(role)), UpdatedAt: s.now().UTC()}
	if err := s.store.UpdateUser(ctx, name, c); err != nil {
		return lastAdmin(name, fmt.Errorf("set role of %s: %w", name, err))
	}
	s.log.InfoContext(ctx, "role changed", telemetry.KeyUser, name, telemetry.KeyRole, string(role), telemetry.KeyActor, actor(ctx))
	return nil
}

// DeleteUser removes user name with its tokens and sessions. Deleting the
// last admin is ErrInvalid; a missing user is store.ErrNotFound.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	if err := s.store.DeleteUser(ctx, name); err != nil {
		return lastAdmin(name, err)
	}
	s.log.InfoContext(ctx, "user deleted", telemetry.KeyUser, name, telemetry.KeyActor, actor(ctx))
	return nil
}

// lastAdmin turns the store's refusal to take the last admin away into
// ErrInvalid with what to do instead; other errors pass as they are.
func lastAdmin(name string, err error) error {
	if errors.Is(err, store.ErrLastAdmin) {
		return invalidf("%s is the last admin; make another user admin first", name)
	}
	return err
}

func ptr[T any](v T) *T { return &v }

// Users lists every user by name, without password hashes.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.store.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = publicUser(u)
	}
	return out, nil
}

// GetUser returns user name without its hash, or store.ErrNotFound.
func (s *Service) GetUser(ctx context.Context, name string) (User, error) {
	u, err := s.store.User(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, err)
	}
	return publicUser(u), nil
}

func publicUser(u store.User) User {
	return User{Name: u.Name, Role: Role(u.Role), MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt}
}

// UserPrincipal returns the principal of user name as it is now (its
// current role), for a credential issued earlier, such as a registry
// token. Via is left empty for the caller to say how it was proved. A user
// that no longer exists is an error matching both ErrBadCredentials and
// store.ErrNotFound.
func (s *Service) UserPrincipal(ctx context.Context, name string) (Principal, error) {
	u, err := s.store.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: user %s: %w", ErrBadCredentials, name, err)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("user %s: %w", name, err)
	}
	return Principal{User: u.Name, Role: Role(u.Role)}, nil
}
