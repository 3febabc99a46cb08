package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/store"
)

// AccessMeta is a backend that keeps the cache's metadata and the access
// records, as serve opens them together.
type AccessMeta interface {
	store.Meta
	store.Access
}

// AccessBackend is MetaBackend for an AccessMeta.
type AccessBackend func(t *testing.T) (open func() AccessMeta)

// TestAccess runs the conformance suite for a store.Access backend.
func TestAccess(t *testing.T, backend AccessBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, m AccessMeta)
	}{
		{"Missing", testAccessMissing},
		{"Users", testAccessUsers},
		{"Tokens", testAccessTokens},
		{"Sessions", testAccessSessions},
		{"DeleteUserCascades", testAccessCascade},
		{"Secret", testAccessSecret},
		{"ConcurrentSecret", testAccessConcurrentSecret},
		{"ConcurrentAddUser", testAccessConcurrentAddUser},
		{"LastAdmin", testAccessLastAdmin},
		{"ConcurrentDemotions", testAccessConcurrentDemotions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := backend(t)
			m := open()
			t.Cleanup(func() {
				if err := m.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, m)
		})
	}
	t.Run("Reopen", func(t *testing.T) { testAccessReopen(t, backend(t)) })
}

func user(name, role string, i int) store.User {
	return store.User{Name: name, Role: role, PasswordHash: []byte("hash of " + name), CreatedAt: at(i), UpdatedAt: at(i)}
}

func testAccessMissing(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"User", func() error { _, err := m.User(ctx, "nobody"); return err }},
		{"UpdateUser", func() error {
			return m.UpdateUser(ctx, "nobody", store.UserChange{Role: ptr("reader"), UpdatedAt: at(0)})
		}},
		{"DeleteUser", func() error { return m.DeleteUser(ctx, "nobody") }},
		{"Token", func() error { _, err := m.Token(ctx, "0123456789abcdef"); return err }},
		{"DeleteToken", func() error { _, err := m.DeleteToken(ctx, "nobody", "ci"); return err }},
		{"AddToken of missing user", func() error {
			return m.AddToken(ctx, store.Token{ID: "t1", User: "nobody", Name: "ci", Hash: []byte("h"), CreatedAt: at(0)})
		}},
		{"Session", func() error { _, err := m.Session(ctx, "abc"); return err }},
		{"AddSession of missing user", func() error {
			return m.AddSession(ctx, store.Session{ID: "s1", User: "nobody", CSRF: "c", CreatedAt: at(0), ExpiresAt: at(60)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("got %v; want ErrNotFound", err)
			}
		})
	}
	for name, call := range map[string]func() error{
		"DeleteSession": func() error { return m.DeleteSession(ctx, "abc") },
		"TouchToken":    func() error { return m.TouchToken(ctx, "abc", at(0)) },
	} {
		if err := call(); err != nil {
			t.Errorf("%s of a missing record: %v; want nil", name, err)
		}
	}
	if us, err := m.Users(ctx); err != nil || len(us) != 0 {
		t.Errorf("Users of an empty store = %v, %v; want none", us, err)
	}
	if ts, err := m.Tokens(ctx, ""); err != nil || len(ts) != 0 {
		t.Errorf("Tokens of an empty store = %v, %v; want none", ts, err)
	}
}

func testAccessUsers(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	bob, alice := user("bob", "reader", 1), user("alice", "admin", 2)
	alice.MustChangePassword = true
	must(t, m.AddUser(ctx, bob), "add bob")
	must(t, m.AddUser(ctx, alice), "add alice")
	if err := m.AddUser(ctx, user("bob", "admin", 3)); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser of a taken name = %v; want ErrExists", err)
	}

	got, err := m.User(ctx, "alice")
	must(t, err, "user alice")
	if diff := cmp.Diff(utcUser(alice), got); diff != "" {
		t.Errorf("User(alice) (-want +got):\n%s", diff)
	}
	us, err := m.Users(ctx)
	must(t, err, "users")
	if diff := cmp.Diff([]store.User{utcUser(alice), utcUser(bob)}, us); diff != "" {
		t.Errorf("Users not by name, or wrong (-want +got):\n%s", diff)
	}

	bob.Role, bob.PasswordHash, bob.MustChangePassword, bob.UpdatedAt = "admin", []byte("new hash"), true, at(10)
	must(t, m.UpdateUser(ctx, "bob", store.UserChange{Role: ptr("admin"), PasswordHash: []byte("new hash"), MustChangePassword: ptr(true), UpdatedAt: at(10)}), "update bob")
	got, err = m.User(ctx, "bob")
	must(t, err, "user bob")
	if diff := cmp.Diff(utcUser(bob), got); diff != "" {
		t.Errorf("User(bob) after update (-want +got):\n%s", diff)
	}
	// Fields left nil stay as stored: one change at a time.
	for _, step := range []struct {
		c    store.UserChange
		edit func(*store.User)
	}{
		{store.UserChange{PasswordHash: []byte("third hash"), UpdatedAt: at(11)}, func(u *store.User) { u.PasswordHash = []byte("third hash") }},
		{store.UserChange{MustChangePassword: ptr(false), UpdatedAt: at(12)}, func(u *store.User) { u.MustChangePassword = false }},
		{store.UserChange{Role: ptr("reader"), UpdatedAt: at(13)}, func(u *store.User) { u.Role = "reader" }},
	} {
		must(t, m.UpdateUser(ctx, "bob", step.c), "update bob")
		step.edit(&bob)
		bob.UpdatedAt = step.c.UpdatedAt
		got, err = m.User(ctx, "bob")
		must(t, err, "user bob")
		if diff := cmp.Diff(utcUser(bob), got); diff != "" {
			t.Errorf("User(bob) after %+v (-want +got):\n%s", step.c, diff)
		}
	}

	must(t, m.DeleteUser(ctx, "bob"), "delete bob")
	if _, err := m.User(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User after delete = %v; want ErrNotFound", err)
	}
	must(t, m.AddUser(ctx, user("bob", "reader", 20)), "add bob again")
}

func utcUser(u store.User) store.User {
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u
}

func utcToken(tk store.Token) store.Token {
	tk.CreatedAt, tk.ExpiresAt, tk.LastUsedAt = utc(tk.CreatedAt), utc(tk.ExpiresAt), utc(tk.LastUsedAt)
	return tk
}

func utc(t time.Time) time.Time { return t.UTC() }

func testAccessTokens(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	must(t, m.AddUser(ctx, user("bob", "reader", 0)), "add bob")
	must(t, m.AddUser(ctx, user("alice", "admin", 0)), "add alice")
	ci := store.Token{ID: "id-ci", User: "bob", Name: "ci", Hash: []byte("hash ci"), CreatedAt: at(1), ExpiresAt: at(100)}
	laptop := store.Token{ID: "id-laptop", User: "bob", Name: "laptop", Hash: []byte("hash laptop"), CreatedAt: at(2)}
	other := store.Token{ID: "id-alice", User: "alice", Name: "ci", Hash: []byte("hash alice"), CreatedAt: at(3)}
	for _, tk := range []store.Token{laptop, ci, other} {
		must(t, m.AddToken(ctx, tk), "add token "+tk.ID)
	}
	for name, tk := range map[string]store.Token{
		"same user and name": {ID: "id-new", User: "bob", Name: "ci", Hash: []byte("h"), CreatedAt: at(4)},
		"same id":            {ID: "id-ci", User: "alice", Name: "new", Hash: []byte("h"), CreatedAt: at(4)},
	} {
		if err := m.AddToken(ctx, tk); !errors.Is(err, store.ErrExists) {
			t.Errorf("AddToken with %s = %v; want ErrExists", name, err)
		}
	}

	got, err := m.Token(ctx, "id-ci")
	must(t, err, "token id-ci")
	if diff := cmp.Diff(utcToken(ci), got); diff != "" {
		t.Errorf("Token(id-ci) (-want +got):\n%s", diff)
	}
	tests := []struct {
		user string
		want []store.Token
	}{
		{"", []store.Token{other, ci, laptop}},
		{"bob", []store.Token{ci, laptop}},
		{"alice", []store.Token{other}},
		{"carol", nil},
	}
	for _, tt := range tests {
		got, err := m.Tokens(ctx, tt.user)
		must(t, err, "tokens of "+tt.user)
		var want []store.Token
		for _, tk := range tt.want {
			want = append(want, utcToken(tk))
		}
		if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
			t.Errorf("Tokens(%q) (-want +got):\n%s", tt.user, diff)
		}
	}

	// Touch moves LastUsedAt forward only.
	must(t, m.TouchToken(ctx, "id-ci", at(50)), "touch")
	must(t, m.TouchToken(ctx, "id-ci", at(40)), "touch earlier")
	got, err = m.Token(ctx, "id-ci")
	must(t, err, "token id-ci")
	if !got.LastUsedAt.Equal(at(50)) {
		t.Errorf("LastUsedAt = %v; want %v, the latest touch", got.LastUsedAt, at(50))
	}

	id, err := m.DeleteToken(ctx, "bob", "ci")
	if err != nil || id != "id-ci" {
		t.Errorf("DeleteToken(bob, ci) = %q, %v; want id-ci", id, err)
	}
	if _, err := m.Token(ctx, "id-ci"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Token after delete = %v; want ErrNotFound", err)
	}
	if _, err := m.Token(ctx, "id-alice"); err != nil {
		t.Errorf("alice's token of the same name went too: %v", err)
	}
	if _, err := m.DeleteToken(ctx, "bob", "ci"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteToken = %v; want ErrNotFound", err)
	}
	// The name is free again.
	must(t, m.AddToken(ctx, store.Token{ID: "id-ci2", User: "bob", Name: "ci", Hash: []byte("h2"), CreatedAt: at(5)}), "add ci again")
}

func testAccessSessions(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	must(t, m.AddUser(ctx, user("bob", "reader", 0)), "add bob")
	must(t, m.AddUser(ctx, user("alice", "admin", 0)), "add alice")
	sessions := []store.Session{
		{ID: "s-old", User: "bob", CSRF: "c1", CreatedAt: at(0), ExpiresAt: at(10)},
		{ID: "s-edge", User: "alice", CSRF: "c2", CreatedAt: at(0), ExpiresAt: at(20)},
		{ID: "s-new", User: "bob", CSRF: "c3", CreatedAt: at(0), ExpiresAt: at(30)},
		{ID: "s-alice", User: "alice", CSRF: "c4", CreatedAt: at(0), ExpiresAt: at(40)},
	}
	for _, s := range sessions {
		must(t, m.AddSession(ctx, s), "add session "+s.ID)
	}
	if err := m.AddSession(ctx, sessions[0]); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddSession of a taken ID = %v; want ErrExists", err)
	}
	got, err := m.Session(ctx, "s-new")
	must(t, err, "session s-new")
	want := sessions[2]
	want.CreatedAt, want.ExpiresAt = want.CreatedAt.UTC(), want.ExpiresAt.UTC()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Session(s-new) (-want +got):\n%s", diff)
	}

	// Expired at or before t: s-old and s-edge.
	n, err := m.DeleteExpiredSessions(ctx, at(20))
	if err != nil || n != 2 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 2", n, err)
	}
	exists := func(id string) bool {
		_, err := m.Session(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Session(%s): %v", id, err)
		}
		return err == nil
	}
	for id, want := range map[string]bool{"s-old": false, "s-edge": false, "s-new": true, "s-alice": true} {
		if exists(id) != want {
			t.Errorf("after DeleteExpiredSessions, session %s exists = %v; want %v", id, !want, want)
		}
	}

	must(t, m.DeleteSession(ctx, "s-new"), "delete s-new")
	if exists("s-new") {
		t.Errorf("session s-new still there after DeleteSession")
	}
	must(t, m.AddSession(ctx, store.Session{ID: "s-2", User: "alice", CSRF: "c", CreatedAt: at(0), ExpiresAt: at(50)}), "add s-2")
	n, err = m.DeleteSessions(ctx, "alice")
	if err != nil || n != 2 {
		t.Errorf("DeleteSessions(alice) = %d, %v; want 2", n, err)
	}
	if exists("s-alice") || exists("s-2") {
		t.Errorf("alice's sessions survive DeleteSessions")
	}
}

func testAccessCascade(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	must(t, m.AddUser(ctx, user("bob", "reader", 0)), "add bob")
	must(t, m.AddToken(ctx, store.Token{ID: "tk", User: "bob", Name: "ci", Hash: []byte("h"), CreatedAt: at(0)}), "add token")
	must(t, m.AddSession(ctx, store.Session{ID: "ss", User: "bob", CSRF: "c", CreatedAt: at(0), ExpiresAt: at(60)}), "add session")
	must(t, m.DeleteUser(ctx, "bob"), "delete bob")
	if _, err := m.Token(ctx, "tk"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a deleted user: %v; want ErrNotFound", err)
	}
	if _, err := m.Session(ctx, "ss"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session of a deleted user: %v; want ErrNotFound", err)
	}
	// A new bob inherits nothing.
	must(t, m.AddUser(ctx, user("bob", "reader", 1)), "add bob again")
	if ts, err := m.Tokens(ctx, "bob"); err != nil || len(ts) != 0 {
		t.Errorf("tokens of the new bob = %v, %v; want none", ts, err)
	}
}

func testAccessSecret(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	got, err := m.Secret(ctx, "key", gen("first"))
	if err != nil || string(got) != "first" {
		t.Fatalf("Secret on first use = %q, %v; want the generated value", got, err)
	}
	got, err = m.Secret(ctx, "key", gen("second"))
	if err != nil || string(got) != "first" || calls != 1 {
		t.Errorf("Secret again = %q, %v with %d generations; want the stored value and one generation", got, err, calls)
	}
	got, err = m.Secret(ctx, "other", gen("other value"))
	if err != nil || string(got) != "other value" {
		t.Errorf("Secret of another name = %q, %v", got, err)
	}
	boom := errors.New("no entropy")
	if _, err := m.Secret(ctx, "failing", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Secret with a failing generator = %v; want its error", err)
	}
	got, err = m.Secret(ctx, "failing", gen("later"))
	if err != nil || string(got) != "later" {
		t.Errorf("Secret after a failed generation = %q, %v; want a new value stored", got, err)
	}
}

// testAccessConcurrentSecret asks for one secret from many goroutines
// at once: all must get the same value.
func testAccessConcurrentSecret(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	var wg sync.WaitGroup
	got := make([][]byte, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[w], errs[w] = m.Secret(ctx, "key", func() ([]byte, error) {
				return fmt.Appendf(nil, "value of worker %d", w), nil
			})
		}()
	}
	wg.Wait()
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		if !bytes.Equal(got[w], got[0]) {
			t.Errorf("worker %d got %q, worker 0 %q; want one secret", w, got[w], got[0])
		}
	}
}

// testAccessConcurrentAddUser adds one name from many goroutines: exactly
// one wins, the rest get ErrExists.
func testAccessConcurrentAddUser(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = m.AddUser(ctx, user("admin", "admin", w))
		}()
	}
	wg.Wait()
	won := 0
	for w, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("worker %d: %v; want nil or ErrExists", w, err)
		}
	}
	if won != 1 {
		t.Errorf("%d AddUser calls succeeded; want exactly 1", won)
	}
}

func ptr[T any](v T) *T { return &v }

// testAccessLastAdmin checks that the last admin can be neither demoted
// nor deleted, while its password still changes and a second admin frees
// the first.
func testAccessLastAdmin(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	must(t, m.AddUser(ctx, user("root", store.AdminRole, 0)), "add root")
	must(t, m.AddUser(ctx, user("bob", "reader", 1)), "add bob")
	if err := m.UpdateUser(ctx, "root", store.UserChange{Role: ptr("reader"), UpdatedAt: at(2)}); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("demoting the last admin = %v; want ErrLastAdmin", err)
	}
	if err := m.DeleteUser(ctx, "root"); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("deleting the last admin = %v; want ErrLastAdmin", err)
	}
	must(t, m.UpdateUser(ctx, "root", store.UserChange{PasswordHash: []byte("new"), MustChangePassword: ptr(false), UpdatedAt: at(3)}), "new password for the last admin")
	if u, err := m.User(ctx, "root"); err != nil || u.Role != store.AdminRole {
		t.Errorf("root after refused changes = %+v, %v; want still an admin", u, err)
	}
	must(t, m.DeleteUser(ctx, "bob"), "delete a reader")
	must(t, m.AddUser(ctx, user("alice", "reader", 4)), "add alice")
	must(t, m.UpdateUser(ctx, "alice", store.UserChange{Role: ptr(store.AdminRole), UpdatedAt: at(5)}), "promote alice")
	must(t, m.UpdateUser(ctx, "root", store.UserChange{Role: ptr("reader"), UpdatedAt: at(6)}), "demote root with alice an admin")
	if err := m.DeleteUser(ctx, "alice"); !errors.Is(err, store.ErrLastAdmin) {
		t.Errorf("deleting alice, now the last admin = %v; want ErrLastAdmin", err)
	}
	must(t, m.DeleteUser(ctx, "root"), "delete root, a reader now")
}

// testAccessConcurrentDemotions demotes and deletes two admins from many
// goroutines at once: one admin must be left.
func testAccessConcurrentDemotions(t *testing.T, m AccessMeta) {
	ctx := t.Context()
	survivor := ""
	for round := range 5 {
		a, b := fmt.Sprintf("a%d", round), fmt.Sprintf("b%d", round)
		must(t, m.AddUser(ctx, user(a, store.AdminRole, 0)), "add "+a)
		must(t, m.AddUser(ctx, user(b, store.AdminRole, 0)), "add "+b)
		if survivor != "" { // the last round's admin, free to go now
			must(t, m.UpdateUser(ctx, survivor, store.UserChange{Role: ptr("reader"), UpdatedAt: at(0)}), "demote "+survivor)
		}
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := []string{a, b}[w%2]
				if w%4 < 2 {
					errs[w] = m.UpdateUser(ctx, name, store.UserChange{Role: ptr("reader"), UpdatedAt: at(w)})
				} else {
					errs[w] = m.DeleteUser(ctx, name)
				}
			}()
		}
		wg.Wait()
		for w, err := range errs {
			if err != nil && !errors.Is(err, store.ErrLastAdmin) && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("round %d worker %d: %v; want nil, ErrLastAdmin or ErrNotFound", round, w, err)
			}
		}
		us, err := m.Users(ctx)
		must(t, err, "users")
		var admins []string
		for _, u := range us {
			if u.Role == store.AdminRole {
				admins = append(admins, u.Name)
			}
		}
		if len(admins) != 1 {
			t.Fatalf("round %d: admins left %v; want exactly one", round, admins)
		}
		survivor = admins[0]
	}
}

// testAccessReopen checks that users, tokens, sessions and secrets survive
// a restart.
func testAccessReopen(t *testing.T, open func() AccessMeta) {
	ctx := t.Context()
	m := open()
	must(t, m.AddUser(ctx, user("bob", "reader", 0)), "add bob")
	must(t, m.AddToken(ctx, store.Token{ID: "tk", User: "bob", Name: "ci", Hash: []byte("h"), CreatedAt: at(0)}), "add token")
	must(t, m.AddSession(ctx, store.Session{ID: "ss", User: "bob", CSRF: "c", CreatedAt: at(0), ExpiresAt: at(60)}), "add session")
	key, err := m.Secret(ctx, "key", func() ([]byte, error) { return []byte("k1"), nil })
	must(t, err, "secret")
	must(t, m.Close(), "close")

	m = open()
	defer m.Close()
	if _, err := m.User(ctx, "bob"); err != nil {
		t.Errorf("user after reopen: %v", err)
	}
	if _, err := m.Token(ctx, "tk"); err != nil {
		t.Errorf("token after reopen: %v", err)
	}
	if _, err := m.Session(ctx, "ss"); err != nil {
		t.Errorf("session after reopen: %v", err)
	}
	if got, err := m.Secret(ctx, "key", func() ([]byte, error) { return []byte("k2"), nil }); err != nil || !bytes.Equal(got, key) {
		t.Errorf("secret after reopen = %q, %v; want %q", got, err, key)
	}
}
