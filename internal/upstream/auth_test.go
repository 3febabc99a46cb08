package upstream

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"breakwater/internal/oci"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func TestTokenCache(t *testing.T) {
	const (
		node = "repository:library/node:pull"
		app  = "repository:org/app:pull"
	)
	type step struct {
		do    string // a repository to fetch from, "advance", or "revoke"
		after time.Duration
	}
	tests := []struct {
		name      string
		expiresIn int
		field     string
		steps     []step
		want      map[string]int // token fetches by scope
	}{
		{
			name: "one token per scope", expiresIn: 300, field: "token",
			steps: []step{{do: "library/node"}, {do: "library/node"}, {do: "org/app"}, {do: "library/node"}, {do: "org/app"}},
			want:  map[string]int{node: 1, app: 1},
		},
		{
			name: "access_token field", expiresIn: 300, field: "access_token",
			steps: []step{{do: "library/node"}, {do: "library/node"}},
			want:  map[string]int{node: 1},
		},
		{
			name: "reused until shortly before expiry", expiresIn: 300, field: "token",
			steps: []step{{do: "library/node"}, {do: "advance", after: 4 * time.Minute}, {do: "library/node"}},
			want:  map[string]int{node: 1},
		},
		{
			name: "refreshed after expiry", expiresIn: 300, field: "token",
			steps: []step{{do: "library/node"}, {do: "advance", after: 290 * time.Second}, {do: "library/node"}, {do: "library/node"}},
			want:  map[string]int{node: 2},
		},
		{
			name: "60s lifetime without expires_in", expiresIn: 0, field: "token",
			steps: []step{{do: "library/node"}, {do: "advance", after: 50 * time.Second}, {do: "library/node"}, {do: "advance", after: 10 * time.Second}, {do: "library/node"}},
			want:  map[string]int{node: 2},
		},
		{
			name: "refused cached token is replaced once", expiresIn: 300, field: "token",
			steps: []step{{do: "library/node"}, {do: "revoke"}, {do: "library/node"}, {do: "library/node"}},
			want:  map[string]int{node: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm := newTokenRealm(t, "alice", "s3cret")
			realm.expiresIn, realm.field = tt.expiresIn, tt.field
			r := newRemote(t, realm.middleware)
			r.pushImage(t, "library/node", "20")
			r.pushImage(t, "org/app", "20")
			c, _ := newClient(t, r, Options{Username: "alice", Password: "s3cret"})
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			c.now = clock.Now

			for _, s := range tt.steps {
				switch s.do {
				case "advance":
					clock.Advance(s.after)
				case "revoke":
					realm.revokeAll()
				default:
					if _, err := c.HeadManifest(t.Context(), s.do, tagRef("20")); err != nil {
						t.Fatalf("HeadManifest %s: %v", s.do, err)
					}
				}
			}
			for scope, want := range tt.want {
				if got := realm.fetchCount(scope); got != want {
					t.Errorf("token fetches for %s = %d, want %d", scope, got, want)
				}
			}
		})
	}
}

func TestConcurrentPullsShareOneToken(t *testing.T) {
	realm := newTokenRealm(t, "", "")
	r := newRemote(t, realm.middleware)
	r.pushImage(t, "library/node", "20")
	c, _ := newClient(t, r, Options{})
	// Learn the challenge first, so that all the pulls below know they
	// need a token before they send anything.
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := c.HeadManifest(t.Context(), "library/node", tagRef("20")); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	realm.revokeAll()
	c.auth.mu.Lock()
	clear(c.auth.tokens)
	c.auth.mu.Unlock()

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.HeadManifest(t.Context(), "library/node", tagRef("20")); err != nil {
				t.Errorf("HeadManifest: %v", err)
			}
		})
	}
	wg.Wait()
	// One fetch before the revocation, and at most a few after: the
	// concurrent pulls coalesce on one fetch per scope, but a pull that
	// started after that fetch finished may find the token already cached
	// or, racing with the delete above, fetch once more.
	if got := realm.fetchCount("repository:library/node:pull"); got < 2 || got > 3 {
		t.Errorf("token fetches = %d, want 2 or 3", got)
	}
}

func TestAuthDenied(t *testing.T) {
	tests := []struct {
		name string
		mw   func(t *testing.T) middleware
		opts Options
	}{
		{"wrong basic password", func(t *testing.T) middleware { return requireBasic("alice", "s3cret") }, Options{Username: "alice", Password: "wrong"}},
		{"basic without credentials", func(t *testing.T) middleware { return requireBasic("alice", "s3cret") }, Options{}},
		{"realm refuses credentials", func(t *testing.T) middleware { return newTokenRealm(t, "alice", "s3cret").middleware }, Options{Username: "alice", Password: "wrong"}},
		{"realm wants credentials", func(t *testing.T) middleware { return newTokenRealm(t, "alice", "s3cret").middleware }, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t, tt.mw(t))
			r.pushImage(t, "app", "1")
			c, waits := newClient(t, r, tt.opts)

			_, _, err := c.Manifest(t.Context(), "app", tagRef("1"))
			if !errors.Is(err, oci.ErrDenied) || IsNotFound(err) {
				t.Errorf("Manifest err = %v, want %v", err, oci.ErrDenied)
			}
			if len(*waits) != 0 {
				t.Errorf("retried %d times, want no retry for a refusal", len(*waits))
			}
		})
	}
}

// TestSecretsStayOut checks that neither the password nor a token shows up
// in errors or logs, whatever goes wrong.
func TestSecretsStayOut(t *testing.T) {
	const password = "pa55-word-do-not-log"
	realm := newTokenRealm(t, "alice", password)
	var cdnURL string
	mw5xx, _ := failFirst(100, 503, "", isManifest)
	r := newRemote(t, realm.middleware, mw5xx, redirectBlobs(func() string { return cdnURL }))
	cdnURL = "http://127.0.0.1:1" // a CDN that refuses connections: errors mention the URL
	img := r.pushImage(t, "app", "1")
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()

	var logs bytes.Buffer
	c, _ := newClient(t, r, Options{Username: "alice", Password: password, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, _, errManifest := c.Manifest(t.Context(), "app", tagRef("1"))
	_, _, errBlob := c.Blob(t.Context(), "app", mustDigest(t, d))
	if errManifest == nil || errBlob == nil {
		t.Fatalf("Manifest err = %v, Blob err = %v; want both to fail", errManifest, errBlob)
	}

	all := logs.String() + errManifest.Error() + errBlob.Error()
	for _, secret := range []string{password, basicAuth("alice", password), "tok-", "signature=secret"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q appears in errors or logs:\n%s", secret, all)
		}
	}
}

func TestRealmDowngradeRefused(t *testing.T) {
	a := &authTransport{}
	a.registry = mustURL(t, "https://registry.example")
	_, err := a.realm(&challenge{scheme: "bearer", params: map[string]string{"realm": "http://auth.example/token"}})
	if !errors.Is(err, oci.ErrDenied) {
		t.Errorf("realm err = %v, want %v", err, oci.ErrDenied)
	}
}
