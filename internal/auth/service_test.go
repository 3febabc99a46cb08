package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/auth"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
)

const (
	bobPassword   = "bob-password-12"
	alicePassword = "alice-password-12"
)

// svcEnv is a Service over a real SQLite store, with a clock the test
// moves and a log it can read.
type svcEnv struct {
	svc  *auth.Service
	meta *sqlite.Meta
	path string
	logs *syncBuffer

	mu  sync.Mutex
	now time.Time
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newSvcEnv opens a store and a Service with a login limit of 3 and
// sessions of an hour; with users, it adds reader bob and admin alice.
func newSvcEnv(t *testing.T, users bool) *svcEnv {
	t.Helper()
	e := &svcEnv{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), logs: &syncBuffer{}}
	e.path = filepath.Join(t.TempDir(), "meta.db")
	e.meta = e.open(t)
	e.svc = e.service(t, e.meta)
	if users {
		ctx := t.Context()
		must(t, e.svc.AddUser(ctx, "bob", auth.RoleReader, bobPassword))
		must(t, e.svc.AddUser(ctx, "alice", auth.RoleAdmin, alicePassword))
	}
	return e
}

func (e *svcEnv) open(t *testing.T) *sqlite.Meta {
	t.Helper()
	m, err := sqlite.Open(e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func (e *svcEnv) service(t *testing.T, m store.Access) *auth.Service {
	t.Helper()
	svc, err := auth.New(auth.Options{
		Store:      m,
		Logger:     slog.New(slog.NewTextHandler(e.logs, nil)),
		Now:        e.clock,
		SessionTTL: time.Hour,
		LoginLimit: 3,
		// The default cost takes seconds a hash under the race detector.
		PasswordCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *svcEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *svcEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// sessionIDOf is how the store keys a session: the cookie's SHA-256.
func sessionIDOf(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewNeedsStore(t *testing.T) {
	if _, err := auth.New(auth.Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}

// TestPasswordCost: passwords are hashed at bcrypt's default cost unless
// told otherwise, and a cost bcrypt does not take is refused.
func TestPasswordCost(t *testing.T) {
	e := newSvcEnv(t, false)
	m := e.open(t)
	for _, c := range []struct{ set, want int }{{0, bcrypt.DefaultCost}, {bcrypt.MinCost + 1, bcrypt.MinCost + 1}} {
		svc, err := auth.New(auth.Options{Store: m, PasswordCost: c.set})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("cost%d", c.set)
		must(t, svc.AddUser(t.Context(), name, auth.RoleReader, "a long enough password"))
		u, err := m.User(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := bcrypt.Cost(u.PasswordHash); err != nil || got != c.want {
			t.Errorf("PasswordCost %d: hash cost %d (%v), want %d", c.set, got, err, c.want)
		}
	}
	if _, err := auth.New(auth.Options{Store: m, PasswordCost: bcrypt.MaxCost + 1}); err == nil {
		t.Error("New with a cost above bcrypt's maximum succeeded")
	}
}

func TestAddUserChecksInput(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	tests := []struct {
		name     string
		user     string
		role     auth.Role
		password string
		want     error
		msg      string
	}{
		{"empty name", "", auth.RoleReader, bobPassword, auth.ErrInvalid, "user name"},
		{"upper case", "Bob2", auth.RoleReader, bobPassword, auth.ErrInvalid, "user name"},
		{"starts with dot", ".bob", auth.RoleReader, bobPassword, auth.ErrInvalid, "user name"},
		{"slash", "bob/x", auth.RoleReader, bobPassword, auth.ErrInvalid, "user name"},
		{"65 characters", strings.Repeat("a", 65), auth.RoleReader, bobPassword, auth.ErrInvalid, "user name"},
		{"bad role", "carol", "root", bobPassword, auth.ErrInvalid, "role"},
		{"short password", "carol", auth.RoleReader, "elevenchars", auth.ErrInvalid, "at least 12 characters"},
		{"password over bcrypt's limit", "carol", auth.RoleReader, strings.Repeat("p", 73), auth.ErrInvalid, "at most 72"},
		{"newline in the password", "carol", auth.RoleReader, "long enough pass\nword", auth.ErrInvalid, "control characters"},
		{"tab in the password", "carol", auth.RoleReader, "long enough\tpassword", auth.ErrInvalid, "control characters"},
		{"NUL in the password", "carol", auth.RoleReader, "long enough\x00password", auth.ErrInvalid, "control characters"},
		{"DEL in the password", "carol", auth.RoleReader, "long enough\x7fpassword", auth.ErrInvalid, "control characters"},
		{"C1 control in the password", "carol", auth.RoleReader, "long enough\u0085password", auth.ErrInvalid, "control characters"},
		{"only spaces", "carol", auth.RoleReader, strings.Repeat(" ", 12), auth.ErrInvalid, "only whitespace"},
		{"only no-break spaces", "carol", auth.RoleReader, strings.Repeat("\u00a0", 6), auth.ErrInvalid, "only whitespace"},
		{"spaces inside", "carol2", auth.RoleReader, " correct horse battery ", nil, ""},
		{"not ASCII", "carol3", auth.RoleReader, "pässwörd-ñoño", nil, ""},
		{"taken name", "bob", auth.RoleAdmin, alicePassword, auth.ErrExists, "bob"},
		{"64 characters", strings.Repeat("a", 64), auth.RoleReader, bobPassword, nil, ""},
		{"dots, dashes, underscores", "ci-bot_1.x", auth.RoleReader, "exactly12chr", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.svc.AddUser(ctx, tt.user, tt.role, tt.password)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("AddUser = %v; want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
	users, err := e.svc.Users(ctx)
	must(t, err)
	var names []string
	for _, u := range users {
		names = append(names, u.Name+":"+string(u.Role))
	}
	if got, want := strings.Join(names, " "), strings.Repeat("a", 64)+":reader alice:admin bob:reader carol2:reader carol3:reader ci-bot_1.x:reader"; got != want {
		t.Errorf("Users = %s; want %s", got, want)
	}
}

func TestAuthenticatePassword(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	tests := []struct {
		name, user, secret string
		want               auth.Principal
	}{
		{"reader", "bob", bobPassword, auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaPassword}},
		{"admin", "alice", alicePassword, auth.Principal{User: "alice", Role: auth.RoleAdmin, Via: auth.ViaPassword}},
		{"wrong password", "bob", alicePassword, auth.Principal{}},
		{"another user's password", "alice", bobPassword, auth.Principal{}},
		{"unknown user", "carol", bobPassword, auth.Principal{}},
		{"empty", "", "", auth.Principal{}},
		{"token-shaped password that is no token", "bob", "bw_0123456789abcdef_" + strings.Repeat("x", 40), auth.Principal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.Authenticate(ctx, tt.user, tt.secret)
			if tt.want.User == "" {
				if !errors.Is(err, auth.ErrBadCredentials) {
					t.Errorf("Authenticate = %+v, %v; want ErrBadCredentials", p, err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Errorf("Authenticate = %+v, %v; want %+v", p, err, tt.want)
			}
		})
	}
	if p, _ := e.svc.Authenticate(ctx, "alice", alicePassword); !p.IsAdmin() {
		t.Error("alice is not admin")
	}
	if p, _ := e.svc.Authenticate(ctx, "bob", bobPassword); p.IsAdmin() {
		t.Error("bob is admin")
	}
}

// TestUnknownUserCostsACompare checks that a name that does not exist
// takes about as long as a wrong password, so timing does not tell which
// users exist. Without the dummy compare it is a thousand times faster.
func TestUnknownUserCostsACompare(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	timeOf := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			start := time.Now()
			if _, err := e.svc.Authenticate(ctx, user, "not-the-password"); !errors.Is(err, auth.ErrBadCredentials) {
				t.Fatalf("Authenticate(%s) = %v", user, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := timeOf("bob"), timeOf("nobody")
	if unknown < known/4 {
		t.Errorf("unknown user took %v, a known one with a wrong password %v; want them alike", unknown, known)
	}
}

func TestAPITokens(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	secret, info, err := e.svc.CreateToken(ctx, "bob", "ci", time.Hour)
	must(t, err)
	if !regexp.MustCompile(`^bw_[0-9a-f]{16}_[0-9A-Za-z]{40}$`).MatchString(secret) {
		t.Errorf("secret %q is not bw_<16 hex>_<40 base62>", secret)
	}
	if !strings.Contains(secret, info.ID) || info.User != "bob" || info.Name != "ci" ||
		!info.CreatedAt.Equal(e.clock()) || !info.ExpiresAt.Equal(e.clock().Add(time.Hour)) {
		t.Errorf("TokenInfo = %+v", info)
	}
	other, _, err := e.svc.CreateToken(ctx, "bob", "laptop", 0)
	must(t, err)
	if other == secret {
		t.Fatal("two tokens with one secret")
	}

	// Only the hash is stored.
	stored, err := e.meta.Token(ctx, info.ID)
	must(t, err)
	if bytes.Contains(stored.Hash, []byte(secret)) || len(stored.Hash) != 32 {
		t.Errorf("stored hash %x is not a SHA-256 of the secret", stored.Hash)
	}

	bad := []struct {
		name, user, secret string
		wantErr            error
	}{
		{"taken name", "bob", "ci", auth.ErrExists},
		{"missing user", "carol", "ci", store.ErrNotFound},
		{"bad name", "bob", "CI!", auth.ErrInvalid},
	}
	for _, tt := range bad {
		if _, _, err := e.svc.CreateToken(ctx, tt.user, tt.secret, 0); !errors.Is(err, tt.wantErr) {
			t.Errorf("CreateToken %s = %v; want %v", tt.name, err, tt.wantErr)
		}
	}
	if _, _, err := e.svc.CreateToken(ctx, "bob", "neg", -time.Second); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("CreateToken with a negative lifetime = %v; want ErrInvalid", err)
	}

	want := auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaToken, TokenID: info.ID}
	tampered := secret[:len(secret)-1] + "A"
	if strings.HasSuffix(secret, "A") {
		tampered = secret[:len(secret)-1] + "B"
	}
	checks := []struct {
		name, user, secret string
		ok                 bool
	}{
		{"own token", "bob", secret, true},
		{"another user's name", "alice", secret, false},
		{"tampered secret", "bob", tampered, false},
		{"wrong id", "bob", strings.Replace(secret, info.ID, "0000000000000000", 1), false},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.svc.Authenticate(ctx, tt.user, tt.secret)
			if tt.ok && (err != nil || p != want) {
				t.Errorf("Authenticate = %+v, %v; want %+v", p, err, want)
			}
			if !tt.ok && !errors.Is(err, auth.ErrBadCredentials) {
				t.Errorf("Authenticate = %+v, %v; want ErrBadCredentials", p, err)
			}
		})
	}
	if p, err := e.svc.TokenPrincipal(ctx, info.ID); err != nil || p != want {
		t.Errorf("TokenPrincipal = %+v, %v; want %+v", p, err, want)
	}

	// A role change applies to the token at once.
	must(t, e.svc.SetRole(ctx, "bob", auth.RoleAdmin))
	if p, err := e.svc.TokenPrincipal(ctx, info.ID); err != nil || !p.IsAdmin() {
		t.Errorf("TokenPrincipal after promotion = %+v, %v; want admin", p, err)
	}

	list, err := e.svc.Tokens(ctx, "")
	must(t, err)
	if len(list) != 2 || list[0].Name != "ci" || list[1].Name != "laptop" || !list[1].ExpiresAt.IsZero() {
		t.Errorf("Tokens = %+v; want ci, then laptop without expiry", list)
	}

	// Expiry.
	e.advance(59 * time.Minute)
	if _, err := e.svc.Authenticate(ctx, "bob", secret); err != nil {
		t.Errorf("token before expiry: %v", err)
	}
	e.advance(time.Minute)
	if _, err := e.svc.Authenticate(ctx, "bob", secret); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("token at expiry: %v; want ErrBadCredentials", err)
	}
	if _, err := e.svc.TokenPrincipal(ctx, info.ID); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("TokenPrincipal at expiry: %v; want ErrBadCredentials", err)
	}
	if _, err := e.svc.Authenticate(ctx, "bob", other); err != nil {
		t.Errorf("token without expiry: %v", err)
	}

	// Revoke.
	must(t, e.svc.RevokeToken(ctx, "bob", "laptop"))
	if _, err := e.svc.Authenticate(ctx, "bob", other); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("revoked token: %v; want ErrBadCredentials", err)
	}
	if err := e.svc.RevokeToken(ctx, "bob", "laptop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking again = %v; want ErrNotFound", err)
	}
	if _, err := e.svc.TokenPrincipal(ctx, info.ID+"x"); !errors.Is(err, auth.ErrBadCredentials) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenPrincipal of an unknown token = %v; want ErrBadCredentials and ErrNotFound", err)
	}
	if list, _ := e.svc.Tokens(ctx, "bob"); len(list) != 1 {
		t.Errorf("Tokens(bob) after revoke = %+v; want ci alone", list)
	}

	// Deleting the user takes the tokens along.
	fresh, finfo, err := e.svc.CreateToken(ctx, "bob", "fresh", 0)
	must(t, err)
	must(t, e.svc.DeleteUser(ctx, "bob"))
	if _, err := e.svc.Authenticate(ctx, "bob", fresh); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("token of a deleted user: %v", err)
	}
	if _, err := e.svc.TokenPrincipal(ctx, finfo.ID); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("TokenPrincipal of a deleted user's token: %v", err)
	}
	if strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), fresh) {
		t.Errorf("a token secret was logged:\n%s", e.logs)
	}
}

// TestTokenLastUsed checks that use is recorded, but at most once a
// minute.
// TestTokenUntil: a token given an end time ends exactly then, and an end
// that has passed is refused.
func TestTokenUntil(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	until := e.clock().Add(48 * time.Hour).Truncate(time.Hour)
	secret, info, err := e.svc.CreateTokenUntil(ctx, "bob", "until", until)
	if err != nil || !info.ExpiresAt.Equal(until) {
		t.Fatalf("CreateTokenUntil = %+v, %v; want it to end at %v", info, err, until)
	}
	if _, err := e.svc.Authenticate(ctx, "bob", secret); err != nil {
		t.Errorf("the new token: %v", err)
	}
	e.advance(49 * time.Hour)
	if _, err := e.svc.Authenticate(ctx, "bob", secret); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("the token after its end: %v, want bad credentials", err)
	}
	if _, _, err := e.svc.CreateTokenUntil(ctx, "bob", "past", e.clock()); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("a token ending now: %v, want ErrInvalid", err)
	}
	if _, _, err := e.svc.CreateTokenUntil(ctx, "bob", "far", e.clock().AddDate(101, 0, 0)); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("a token ending in 101 years: %v, want ErrInvalid", err)
	}
	// Far past where a duration of nanoseconds wraps, the stored expiry
	// would lie in the past: a token dead on arrival.
	if _, _, err := e.svc.CreateToken(ctx, "bob", "far", 2562047*time.Hour); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("a token for 292 years: %v, want ErrInvalid", err)
	}
}

func TestTokenLastUsed(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	secret, info, err := e.svc.CreateToken(ctx, "bob", "ci", 0)
	must(t, err)
	lastUsed := func() time.Time {
		tk, err := e.meta.Token(ctx, info.ID)
		must(t, err)
		return tk.LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Fatalf("a new token has LastUsedAt %v", lastUsed())
	}
	start := e.clock()
	steps := []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, start},
		{30 * time.Second, start},                       // too soon to write again
		{29 * time.Second, start},                       // still too soon
		{time.Second, start.Add(time.Minute)},           // a minute after the last write
		{10 * time.Minute, start.Add(11 * time.Minute)}, //
	}
	for i, s := range steps {
		e.advance(s.advance)
		if _, err := e.svc.Authenticate(ctx, "bob", secret); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(s.want) {
			t.Errorf("step %d: LastUsedAt = %v; want %v", i, got, s.want)
		}
	}
}

func TestSessions(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	if _, err := e.svc.Login(ctx, "bob", alicePassword, "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("Login with a wrong password = %v", err)
	}
	secret, _, err := e.svc.CreateToken(ctx, "bob", "ci", 0)
	must(t, err)
	if _, err := e.svc.Login(ctx, "bob", secret, "10.0.0.1"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("Login with an API token = %v; want ErrBadCredentials", err)
	}
	cookie, err := e.svc.Login(ctx, "bob", bobPassword, "10.0.0.1")
	must(t, err)
	if len(cookie) < 40 {
		t.Errorf("cookie %q is short", cookie)
	}
	// The store holds the cookie's hash, never the cookie.
	if _, err := e.meta.Session(ctx, cookie); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session found under the cookie itself: %v", err)
	}
	p, s, err := e.svc.Session(ctx, cookie)
	must(t, err)
	if want := (auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaSession}); p != want {
		t.Errorf("Session principal = %+v; want %+v", p, want)
	}
	if len(s.CSRF) < 40 || s.CSRF == cookie || s.User != "bob" || s.MustChangePassword ||
		!s.ExpiresAt.Equal(e.clock().Add(time.Hour)) {
		t.Errorf("Session = %+v", s)
	}
	cookie2, err := e.svc.Login(ctx, "bob", bobPassword, "10.0.0.1")
	must(t, err)
	_, s2, err := e.svc.Session(ctx, cookie2)
	must(t, err)
	if cookie2 == cookie || s2.CSRF == s.CSRF {
		t.Error("two logins share a cookie or CSRF token")
	}
	for _, c := range []string{"", "made-up", cookie + "x"} {
		if _, _, err := e.svc.Session(ctx, c); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("Session(%q) = %v; want ErrBadCredentials", c, err)
		}
	}

	// Logout ends one session.
	must(t, e.svc.Logout(ctx, cookie2))
	if _, _, err := e.svc.Session(ctx, cookie2); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("session after logout: %v", err)
	}
	must(t, e.svc.Logout(ctx, cookie2)) // again: no error

	// Expiry deletes the session.
	e.advance(time.Hour - time.Second)
	if _, _, err := e.svc.Session(ctx, cookie); err != nil {
		t.Errorf("session a second before expiry: %v", err)
	}
	e.advance(time.Second)
	if _, _, err := e.svc.Session(ctx, cookie); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("expired session: %v", err)
	}
	if _, err := e.meta.Session(ctx, sessionIDOf(cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
}

func TestPasswordChangeEndsSessions(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	bob, err := e.svc.Login(ctx, "bob", bobPassword, "10.0.0.1")
	must(t, err)
	alice, err := e.svc.Login(ctx, "alice", alicePassword, "10.0.0.1")
	must(t, err)
	if err := e.svc.SetPassword(ctx, "bob", "short"); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("SetPassword to a short one = %v; want ErrInvalid", err)
	}
	if err := e.svc.SetPassword(ctx, "bob", "new bob\tpassword"); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("SetPassword to one with a tab = %v; want ErrInvalid", err)
	}
	if err := e.svc.SetPassword(ctx, "carol", "long-enough-pw"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetPassword of a missing user = %v; want ErrNotFound", err)
	}
	must(t, e.svc.SetPassword(auth.WithPrincipal(ctx, auth.Principal{User: "alice", Role: auth.RoleAdmin}), "bob", "new-bob-password"))
	if _, _, err := e.svc.Session(ctx, bob); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("bob's session after his password changed: %v", err)
	}
	if _, _, err := e.svc.Session(ctx, alice); err != nil {
		t.Errorf("alice's session after bob's password changed: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, "bob", bobPassword); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := e.svc.Authenticate(ctx, "bob", "new-bob-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if !regexp.MustCompile(`msg="password changed" user=bob sessions=1 actor=alice`).MatchString(e.logs.String()) {
		t.Errorf("password change not logged with its actor:\n%s", e.logs)
	}
	if strings.Contains(e.logs.String(), "new-bob-password") {
		t.Errorf("a password was logged:\n%s", e.logs)
	}
}

func TestLastAdminStays(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	if err := e.svc.DeleteUser(ctx, "alice"); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("deleting the only admin = %v; want ErrInvalid", err)
	}
	if err := e.svc.SetRole(ctx, "alice", auth.RoleReader); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("demoting the only admin = %v; want ErrInvalid", err)
	}
	if err := e.svc.SetRole(ctx, "bob", "root"); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("SetRole to an unknown role = %v; want ErrInvalid", err)
	}
	if err := e.svc.DeleteUser(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting a missing user = %v; want ErrNotFound", err)
	}
	must(t, e.svc.SetRole(ctx, "bob", auth.RoleAdmin))
	cookie, err := e.svc.Login(ctx, "alice", alicePassword, "10.0.0.1")
	must(t, err)
	must(t, e.svc.DeleteUser(ctx, "alice"))
	if _, _, err := e.svc.Session(ctx, cookie); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("session of a deleted user: %v", err)
	}
	if _, err := e.svc.UserPrincipal(ctx, "alice"); !errors.Is(err, auth.ErrBadCredentials) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserPrincipal of a deleted user = %v; want ErrBadCredentials and ErrNotFound", err)
	}
	if p, err := e.svc.UserPrincipal(ctx, "bob"); err != nil || p.User != "bob" || !p.IsAdmin() {
		t.Errorf("UserPrincipal(bob) = %+v, %v; want bob as admin", p, err)
	}
	if err := e.svc.DeleteUser(ctx, "bob"); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("deleting bob, now the only admin = %v; want ErrInvalid", err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	const client = "192.0.2.1"
	fail := func() error {
		_, err := e.svc.Login(ctx, "bob", "wrong-password", client)
		return err
	}
	for i := range 3 {
		if err := fail(); !errors.Is(err, auth.ErrBadCredentials) {
			t.Fatalf("failure %d = %v; want ErrBadCredentials", i+1, err)
		}
		e.advance(10 * time.Second)
	}
	// Now even the right password is refused, without being checked.
	_, err := e.svc.Login(ctx, "bob", bobPassword, client)
	var rl *auth.RateLimitError
	if !errors.Is(err, auth.ErrRateLimited) || !errors.As(err, &rl) {
		t.Fatalf("Login after 3 failures = %v; want a *RateLimitError", err)
	}
	// The first failure was 30s ago, so it leaves the window in 30s.
	if got := rl.RetryAfter(); got != 30*time.Second {
		t.Errorf("RetryAfter = %v; want 30s", got)
	}
	if _, err := e.svc.AuthenticateClient(ctx, "bob", bobPassword, client); !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("AuthenticateClient shares the budget: got %v; want ErrRateLimited", err)
	}
	// Other clients and other users are not affected.
	if _, err := e.svc.Login(ctx, "bob", bobPassword, "192.0.2.2"); err != nil {
		t.Errorf("another client: %v", err)
	}
	if _, err := e.svc.Login(ctx, "alice", alicePassword, client); err != nil {
		t.Errorf("another user: %v", err)
	}
	e.advance(30 * time.Second)
	if _, err := e.svc.Login(ctx, "bob", bobPassword, client); err != nil {
		t.Errorf("after the window: %v", err)
	}
	// A success clears the count.
	for range 2 {
		fail()
	}
	if _, err := e.svc.Login(ctx, "bob", bobPassword, client); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		fail()
	}
	if err := fail(); !errors.Is(err, auth.ErrBadCredentials) {
		t.Errorf("third failure after a success = %v; want ErrBadCredentials, not limited", err)
	}
	if err := fail(); !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("fourth failure = %v; want ErrRateLimited", err)
	}
}

func TestRequest(t *testing.T) {
	e := newSvcEnv(t, true)
	ctx := t.Context()
	secret, info, err := e.svc.CreateToken(ctx, "bob", "ci", 0)
	must(t, err)
	cookie, err := e.svc.Login(ctx, "alice", alicePassword, "10.0.0.1")
	must(t, err)

	basic := func(u, p string) func(r *http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	header := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	withCookie := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: v}) }
	}
	tokenP := auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaToken, TokenID: info.ID}
	tests := []struct {
		name  string
		setup []func(*http.Request)
		want  auth.Principal // zero: ErrBadCredentials
	}{
		{"nothing", nil, auth.Principal{}},
		{"bearer api token", []func(*http.Request){header("Bearer " + secret)}, tokenP},
		{"bearer lower case", []func(*http.Request){header("bearer " + secret)}, tokenP},
		{"bearer password", []func(*http.Request){header("Bearer " + bobPassword)}, auth.Principal{}},
		{"bearer tampered", []func(*http.Request){header("Bearer " + secret[:len(secret)-2] + "00")}, auth.Principal{}},
		{"basic password", []func(*http.Request){basic("bob", bobPassword)}, auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaPassword}},
		{"basic token", []func(*http.Request){basic("bob", secret)}, tokenP},
		{"basic token under another name", []func(*http.Request){basic("alice", secret)}, auth.Principal{}},
		{"basic wrong", []func(*http.Request){basic("bob", "wrong-password")}, auth.Principal{}},
		{"basic malformed", []func(*http.Request){header("Basic !!!")}, auth.Principal{}},
		{"unknown scheme", []func(*http.Request){header("Digest x")}, auth.Principal{}},
		{"session cookie", []func(*http.Request){withCookie(cookie)}, auth.Principal{User: "alice", Role: auth.RoleAdmin, Via: auth.ViaSession}},
		{"bad cookie", []func(*http.Request){withCookie("nope")}, auth.Principal{}},
		{"bad header beats a good cookie", []func(*http.Request){header("Bearer nope"), withCookie(cookie)}, auth.Principal{}},
		{"header wins over cookie", []func(*http.Request){basic("bob", bobPassword), withCookie(cookie)}, auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaPassword}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/users", nil)
			for _, f := range tt.setup {
				f(r)
			}
			p, err := e.svc.Request(r)
			if tt.want.User == "" {
				if !errors.Is(err, auth.ErrBadCredentials) {
					t.Errorf("Request = %+v, %v; want ErrBadCredentials", p, err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Errorf("Request = %+v, %v; want %+v", p, err, tt.want)
			}
		})
	}

	// A refused Basic login is logged as on the registry, without the secret.
	logs := e.logs.String()
	if !regexp.MustCompile(`level=INFO msg="basic credentials refused" user=bob remote=192\.0\.2\.1 path=/api/v1/\S* reason="bad credentials"`).MatchString(logs) {
		t.Errorf("a refused Basic login is not logged as the registry logs one:\n%s", logs)
	}
	if strings.Contains(logs, "wrong-password") {
		t.Errorf("a refused password was logged:\n%s", logs)
	}

	// Basic counts against the login limit of the connection's address.
	for range 3 {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/users", nil)
		r.RemoteAddr = "198.51.100.7:4000"
		r.SetBasicAuth("alice", "wrong-password")
		e.svc.Request(r)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/users", nil)
	r.RemoteAddr = "198.51.100.7:4001"
	r.SetBasicAuth("alice", alicePassword)
	if _, err := e.svc.Request(r); !errors.Is(err, auth.ErrRateLimited) {
		t.Errorf("Basic after 3 failures from one address = %v; want ErrRateLimited", err)
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Error("FromContext of an empty context found a principal")
	}
	p := auth.Principal{User: "bob", Role: auth.RoleReader, Via: auth.ViaToken, TokenID: "x"}
	if got, ok := auth.FromContext(auth.WithPrincipal(context.Background(), p)); !ok || got != p {
		t.Errorf("FromContext = %+v, %v; want %+v", got, ok, p)
	}
}

func TestSigningKey(t *testing.T) {
	e := newSvcEnv(t, false)
	ctx := t.Context()
	k1, err := e.svc.SigningKey(ctx)
	must(t, err)
	if len(k1) != 32 {
		t.Errorf("key has %d bytes; want 32", len(k1))
	}
	// Another process on the same store gets the same key.
	k2, err := e.service(t, e.open(t)).SigningKey(ctx)
	must(t, err)
	if !bytes.Equal(k1, k2) {
		t.Error("two services on one store have different signing keys")
	}
}

func TestBootstrap(t *testing.T) {
	e := newSvcEnv(t, false)
	ctx := t.Context()
	dir := t.TempDir()
	path, err := e.svc.Bootstrap(ctx, dir)
	must(t, err)
	if want := filepath.Join(dir, auth.PasswordFile); path != want {
		t.Errorf("Bootstrap = %q; want %q", path, want)
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v; want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	must(t, err)
	pw, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(pw) < 20 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(pw) {
		t.Errorf("password file holds %q; want one URL-safe password of 20+ characters and a newline", b)
	}
	p, err := e.svc.Authenticate(ctx, auth.BootstrapUser, pw)
	if err != nil || !p.IsAdmin() {
		t.Errorf("Authenticate(admin, file's password) = %+v, %v; want an admin", p, err)
	}
	users, err := e.svc.Users(ctx)
	must(t, err)
	if len(users) != 1 || users[0].Name != "admin" || !users[0].MustChangePassword {
		t.Errorf("Users = %+v; want admin, who must change the password", users)
	}
	if !strings.Contains(e.logs.String(), "first admin created") || strings.Contains(e.logs.String(), pw) {
		t.Errorf("bootstrap log lacks the line or holds the password:\n%s", e.logs)
	}
	// The same actor as the audit entry server.Bootstrap writes.
	if !regexp.MustCompile(`msg="user added" user=admin role=admin actor=breakwater\n`).MatchString(e.logs.String()) {
		t.Errorf("the first admin is not logged as added by breakwater:\n%s", e.logs)
	}
	// The dashboard asks for a change; the change clears the flag.
	cookie, err := e.svc.Login(ctx, "admin", pw, "10.0.0.1")
	must(t, err)
	if _, s, err := e.svc.Session(ctx, cookie); err != nil || !s.MustChangePassword {
		t.Errorf("Session of the first admin = %+v, %v; want MustChangePassword", s, err)
	}
	must(t, e.svc.SetPassword(ctx, "admin", "a-new-admin-password"))
	if u, _ := e.svc.Users(ctx); u[0].MustChangePassword {
		t.Error("MustChangePassword still set after SetPassword")
	}

	// With a user present, Bootstrap does nothing.
	again, err := e.svc.Bootstrap(ctx, dir)
	if err != nil || again != "" {
		t.Errorf("second Bootstrap = %q, %v; want \"\", nil", again, err)
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Error("second Bootstrap changed the password file")
	}
}

// TestBootstrapWithoutAdmin: users added before the first serve (user
// add bob --role reader) do not keep the first admin from being created.
func TestBootstrapWithoutAdmin(t *testing.T) {
	e := newSvcEnv(t, false)
	ctx := t.Context()
	dir := t.TempDir()
	must(t, e.svc.AddUser(ctx, "bob", auth.RoleReader, bobPassword))
	path, err := e.svc.Bootstrap(ctx, dir)
	if want := filepath.Join(dir, auth.PasswordFile); err != nil || path != want {
		t.Fatalf("Bootstrap = %q, %v; want %q", path, err, want)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	if p, err := e.svc.Authenticate(ctx, auth.BootstrapUser, strings.TrimSuffix(string(b), "\n")); err != nil || !p.IsAdmin() {
		t.Errorf("Authenticate(admin, file's password) = %+v, %v; want an admin", p, err)
	}
	if p, err := e.svc.Authenticate(ctx, "bob", bobPassword); err != nil || p.Role != auth.RoleReader {
		t.Errorf("bob after Bootstrap: %+v, %v; want the reader he was", p, err)
	}
	// Once there is an admin, readers or not, Bootstrap does nothing.
	if again, err := e.svc.Bootstrap(ctx, dir); again != "" || err != nil {
		t.Errorf("second Bootstrap = %q, %v; want \"\", nil", again, err)
	}
}

// TestBootstrapNameTaken: with no admin and the name admin taken by a
// reader, Bootstrap leaves that user alone, writes no file and logs what
// to do, without failing serve.
func TestBootstrapNameTaken(t *testing.T) {
	e := newSvcEnv(t, false)
	ctx := t.Context()
	dir := t.TempDir()
	must(t, e.svc.AddUser(ctx, auth.BootstrapUser, auth.RoleReader, bobPassword))
	path, err := e.svc.Bootstrap(ctx, dir)
	if path != "" || err != nil {
		t.Fatalf("Bootstrap = %q, %v; want \"\", nil", path, err)
	}
	if _, err := os.Stat(filepath.Join(dir, auth.PasswordFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Bootstrap wrote %s: %v", auth.PasswordFile, err)
	}
	users, err := e.svc.Users(ctx)
	must(t, err)
	if len(users) != 1 || users[0].Role != auth.RoleReader || users[0].MustChangePassword {
		t.Errorf("Users = %+v; want the reader admin, untouched", users)
	}
	if _, err := e.svc.Authenticate(ctx, auth.BootstrapUser, bobPassword); err != nil {
		t.Errorf("the reader's password no longer works: %v", err)
	}
	logs := e.logs.String()
	for _, want := range []string{"level=ERROR", "breakwater user role NAME --role admin", "breakwater user add NAME --role admin"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
}

func TestBootstrapExistingFile(t *testing.T) {
	const kept = "an-earlier-password-of-32-chars0"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		reuse   bool
	}{
		{"reused", kept + "\n", 0o600, true},
		{"readable by others", kept + "\n", 0o644, false},
		{"too short", "short-password\n", 0o600, false},
		{"two lines", kept + "\n" + kept + "\n", 0o600, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSvcEnv(t, false)
			ctx := t.Context()
			dir := t.TempDir()
			path := filepath.Join(dir, auth.PasswordFile)
			must(t, os.WriteFile(path, []byte(tt.content), tt.mode))
			must(t, os.Chmod(path, tt.mode))
			got, err := e.svc.Bootstrap(ctx, dir)
			users, _ := e.svc.Users(ctx)
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Errorf("the existing file was changed to %q", b)
			}
			if !tt.reuse {
				if err == nil || !strings.Contains(err.Error(), "remove it") || len(users) != 0 {
					t.Errorf("Bootstrap = %q, %v with users %v; want an error asking to remove the file, and no user", got, err, users)
				}
				return
			}
			if err != nil || got != path {
				t.Fatalf("Bootstrap = %q, %v; want %q", got, err, path)
			}
			if _, err := e.svc.Authenticate(ctx, "admin", kept); err != nil {
				t.Errorf("the file's password does not work: %v", err)
			}
		})
	}
}

// TestBootstrapConcurrent starts two processes' worth of services on one
// store and data directory at once: one admin, and the password in the
// file is its password.
func TestBootstrapConcurrent(t *testing.T) {
	e := newSvcEnv(t, false)
	ctx := t.Context()
	dir := t.TempDir()
	svcs := []*auth.Service{e.svc, e.service(t, e.open(t)), e.service(t, e.open(t))}
	var wg sync.WaitGroup
	paths := make([]string, len(svcs))
	errs := make([]error, len(svcs))
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = s.Bootstrap(ctx, dir)
		}()
	}
	wg.Wait()
	created := 0
	for i := range svcs {
		must(t, errs[i])
		if paths[i] != "" {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d Bootstraps report creating the admin (%q); want 1", created, paths)
	}
	users, err := e.svc.Users(ctx)
	must(t, err)
	if len(users) != 1 {
		t.Fatalf("users = %+v; want one admin", users)
	}
	b, err := os.ReadFile(filepath.Join(dir, auth.PasswordFile))
	must(t, err)
	if _, err := e.svc.Authenticate(ctx, "admin", strings.TrimSpace(string(b))); err != nil {
		t.Errorf("the file's password is not the admin's: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
