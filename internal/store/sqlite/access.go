package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"breakwater/internal/store"
)

var _ store.Access = (*Meta)(nil)

// accessSchema is the migration that adds users, API tokens, sessions and
// named secrets. Tokens and sessions go with their user (ON DELETE
// CASCADE).
const accessSchema = `
CREATE TABLE users (
	name        TEXT PRIMARY KEY,
	role        TEXT NOT NULL,
	pw_hash     BLOB NOT NULL,
	must_change INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	user         TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	hash         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL,
	UNIQUE (user, name)
) WITHOUT ROWID;

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user       TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_user ON sessions (user);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// sqliteCode is the extended result code of a driver error, or 0.
func sqliteCode(err error) int {
	var e *msqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddUser creates u, or returns ErrExists.
func (m *Meta) AddUser(ctx context.Context, u store.User) error {
	_, err := m.write.ExecContext(ctx, `INSERT INTO users (name, role, pw_hash, must_change, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.Name, u.Role, u.PasswordHash, boolInt(u.MustChangePassword), nanos(u.CreatedAt), nanos(u.UpdatedAt))
	if isUnique(err) {
		return fmt.Errorf("add user %s: %w", u.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add user %s: %w", u.Name, err)
	}
	return nil
}

const userColumns = `name, role, pw_hash, must_change, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	var must int
	var created, updated int64
	if err := row.Scan(&u.Name, &u.Role, &u.PasswordHash, &must, &created, &updated); err != nil {
		return store.User{}, err
	}
	u.MustChangePassword = must != 0
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}

// User returns the user called name, or ErrNotFound.
func (m *Meta) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(m.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if err != nil {
		return store.User{}, fmt.Errorf("read user %s: %w", name, notFound(err))
	}
	return u, nil
}

// Users lists every user by name.
func (m *Meta) Users(ctx context.Context) ([]store.User, error) {
	rows, err := m.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// UpdateUser applies c to user name in one statement.
func (m *Meta) UpdateUser(ctx context.Context, name string, c store.UserChange) error {
	var role, hash, must any // NULL keeps the stored value
	if c.Role != nil {
		role = *c.Role
	}
	if c.PasswordHash != nil {
		hash = c.PasswordHash
	}
	if c.MustChangePassword != nil {
		must = boolInt(*c.MustChangePassword)
	}
	res, err := m.write.ExecContext(ctx, `UPDATE users
		SET role = coalesce(:role, role), pw_hash = coalesce(:hash, pw_hash), must_change = coalesce(:must, must_change), updated_at = :at
		WHERE name = :name AND (coalesce(:role, role) = :admin OR `+keepsAnAdmin+`)`,
		sql.Named("role", role), sql.Named("hash", hash), sql.Named("must", must), sql.Named("at", nanos(c.UpdatedAt)),
		sql.Named("name", name), sql.Named("admin", store.AdminRole))
	return m.userChanged(ctx, res, err, name, "update user "+name)
}

// keepsAnAdmin is true for the user row at hand when changing it leaves
// an admin: it is no admin, or another user is. It takes the user's name
// as :name and the admin role as :admin. In the same statement as the
// change, SQLite's one writer at a time makes check and change one step.
const keepsAnAdmin = `(role != :admin OR EXISTS (SELECT 1 FROM users other WHERE other.role = :admin AND other.name != :name))`

// userChanged turns an update or delete of user name that touched no row
// into ErrNotFound or, when the user is there, ErrLastAdmin.
func (m *Meta) userChanged(ctx context.Context, res sql.Result, err error, name, what string) error {
	err = affected(res, err, what)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, uerr := m.User(ctx, name); uerr == nil {
		return fmt.Errorf("%s: %w", what, store.ErrLastAdmin)
	}
	return err
}

// DeleteUser removes a user; its tokens and sessions cascade.
func (m *Meta) DeleteUser(ctx context.Context, name string) error {
	res, err := m.write.ExecContext(ctx, `DELETE FROM users WHERE name = :name AND `+keepsAnAdmin,
		sql.Named("name", name), sql.Named("admin", store.AdminRole))
	return m.userChanged(ctx, res, err, name, "delete user "+name)
}

// affected turns an exec that touched no row into ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// AddToken records t.
func (m *Meta) AddToken(ctx context.Context, t store.Token) error {
	_, err := m.write.ExecContext(ctx, `INSERT INTO api_tokens (id, user, name, hash, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.User, t.Name, t.Hash, nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.LastUsedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("add token %s of %s: %w", t.Name, t.User, store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("add token %s of %s: user: %w", t.Name, t.User, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("add token %s of %s: %w", t.Name, t.User, err)
	}
	return nil
}

const tokenColumns = `id, user, name, hash, created_at, expires_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created, expires, used int64
	if err := row.Scan(&t.ID, &t.User, &t.Name, &t.Hash, &created, &expires, &used); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromNanos(created), fromNanos(expires), fromNanos(used)
	return t, nil
}

// Token returns the token with id, or ErrNotFound.
func (m *Meta) Token(ctx context.Context, id string) (store.Token, error) {
	t, err := scanToken(m.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return store.Token{}, fmt.Errorf("read token %s: %w", id, notFound(err))
	}
	return t, nil
}

// Tokens lists the tokens of user, or everyone's for "".
func (m *Meta) Tokens(ctx context.Context, user string) ([]store.Token, error) {
	rows, err := m.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE ? = '' OR user = ? ORDER BY user, name`, user, user)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// DeleteToken removes the token user calls name and returns its ID.
func (m *Meta) DeleteToken(ctx context.Context, user, name string) (string, error) {
	var id string
	err := m.write.QueryRowContext(ctx, `DELETE FROM api_tokens WHERE user = ? AND name = ? RETURNING id`, user, name).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("delete token %s of %s: %w", name, user, notFound(err))
	}
	return id, nil
}

// TouchToken moves the token's LastUsedAt forward to t.
func (m *Meta) TouchToken(ctx context.Context, id string, t time.Time) error {
	_, err := m.write.ExecContext(ctx, `UPDATE api_tokens SET last_used_at = max(last_used_at, ?) WHERE id = ?`, nanos(t), id)
	if err != nil {
		return fmt.Errorf("touch token %s: %w", id, err)
	}
	return nil
}

// AddSession records s.
func (m *Meta) AddSession(ctx context.Context, s store.Session) error {
	_, err := m.write.ExecContext(ctx, `INSERT INTO sessions (id, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.User, s.CSRF, nanos(s.CreatedAt), nanos(s.ExpiresAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("add session of %s: %w", s.User, store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("add session of %s: user: %w", s.User, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("add session of %s: %w", s.User, err)
	}
	return nil
}

// Session returns the session with id, or ErrNotFound.
func (m *Meta) Session(ctx context.Context, id string) (store.Session, error) {
	var s store.Session
	var created, expires int64
	err := m.read.QueryRowContext(ctx, `SELECT id, user, csrf, created_at, expires_at FROM sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.User, &s.CSRF, &created, &expires)
	if err != nil {
		return store.Session{}, fmt.Errorf("read session: %w", notFound(err))
	}
	s.CreatedAt, s.ExpiresAt = fromNanos(created), fromNanos(expires)
	return s, nil
}

// DeleteSession removes one session.
func (m *Meta) DeleteSession(ctx context.Context, id string) error {
	if _, err := m.write.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessions removes every session of user.
func (m *Meta) DeleteSessions(ctx context.Context, user string) (int, error) {
	return count(m.write.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, user))
}

// DeleteExpiredSessions removes the sessions that expired at or before t.
func (m *Meta) DeleteExpiredSessions(ctx context.Context, t time.Time) (int, error) {
	return count(m.write.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, nanos(t)))
}

func count(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Secret returns the secret called name, creating it with gen in the same
// write transaction when missing, so the first writer's value is the one
// everybody gets.
func (m *Meta) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := m.read.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	err = m.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if v, err = gen(); err != nil {
			return err
		}
		if len(v) == 0 {
			return errors.New("generated secret is empty")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO secrets (name, value) VALUES (?, ?)`, name, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", name, err)
	}
	return v, nil
}
