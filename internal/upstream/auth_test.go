package upstream

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"breakwater/internal/oci"
	"breakwater/internal/upstream/upstreamtest"
)

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
			realm := upstreamtest.NewTokenRealm(t, "alice", "s3cret")
			realm.ExpiresIn, realm.Field = tt.expiresIn, tt.field
			r := upstreamtest.NewRemote(t, realm.Middleware)
			r.PushImage(t, "library/node", "20")
			r.PushImage(t, "org/app", "20")
			c, _ := newClient(t, r, Options{Username: "alice", Password: "s3cret"})
			clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			c.now = clock.Now

			for _, s := range tt.steps {
				switch s.do {
				case "advance":
					clock.Advance(s.after)
				case "revoke":
					realm.RevokeAll()
				default:
					if _, err := c.HeadManifest(t.Context(), s.do, tagRef("20")); err != nil {
						t.Fatalf("HeadManifest %s: %v", s.do, err)
					}
				}
			}
			for scope, want := range tt.want {
				if got := realm.Fetches(scope); got != want {
					t.Errorf("token fetches for %s = %d, want %d", scope, got, want)
				}
			}
		})
	}
}

func TestConcurrentPullsShareOneToken(t *testing.T) {
	realm := upstreamtest.NewTokenRealm(t, "", "")
	r := upstreamtest.NewRemote(t, realm.Middleware)
	r.PushImage(t, "library/node", "20")
	c, _ := newClient(t, r, Options{})
	// Learn the challenge first, so that all the pulls below know they
	// need a token before they send anything.
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := c.HeadManifest(t.Context(), "library/node", tagRef("20")); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	realm.RevokeAll()
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
	// One fetch before the revocation and one after, however the pulls
	// interleave: they coalesce on one fetch per scope, and a pull that
	// missed the cache just before that fetch finished finds its token.
	if got := realm.Fetches("repository:library/node:pull"); got != 2 {
		t.Errorf("token fetches = %d, want 2", got)
	}
}

// TestSecretsStayOut checks that neither the password nor a token shows up
// in errors or logs, whatever goes wrong.
func TestSecretsStayOut(t *testing.T) {
	const password = "pa55-word-do-not-log"
	realm := upstreamtest.NewTokenRealm(t, "alice", password)
	var cdnURL string
	mw5xx, _ := upstreamtest.FailFirst(100, 503, "", upstreamtest.IsManifest)
	r := upstreamtest.NewRemote(t, realm.Middleware, mw5xx, upstreamtest.RedirectBlobs(func() string { return cdnURL }))
	cdnURL = "http://127.0.0.1:1" // a CDN that refuses connections: errors mention the URL
	img := r.PushImage(t, "app", "1")
	layers, _ := img.Layers()

	var logs bytes.Buffer
	c, _ := newClient(t, r, Options{Username: "alice", Password: password, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, _, errManifest := c.Manifest(t.Context(), "app", tagRef("1"))
	_, _, errBlob := c.Blob(t.Context(), "app", upstreamtest.Digest(t, layers[0]))
	if errManifest == nil || errBlob == nil {
		t.Fatalf("Manifest err = %v, Blob err = %v; want both to fail", errManifest, errBlob)
	}

	all := logs.String() + errManifest.Error() + errBlob.Error()
	for _, secret := range []string{password, basicAuth("alice", password), "tok-", upstreamtest.Signature} {
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

// TestPingLearnsTheChallenge: after a ping, the first pull asks the realm
// for a token before it asks the registry, saving the 401 round trip.
func TestPingLearnsTheChallenge(t *testing.T) {
	realm := upstreamtest.NewTokenRealm(t, "", "")
	r := upstreamtest.NewRemote(t, realm.Middleware)
	r.PushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	before := r.Requests()
	if _, err := c.HeadManifest(t.Context(), "app", tagRef("1")); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	if got := r.Requests() - before; got != 1 {
		t.Errorf("registry requests for the first pull = %d, want 1", got)
	}
}

// TestRefusalIsNotRetried: retrying cannot change the remote's mind.
func TestRefusalIsNotRetried(t *testing.T) {
	r := upstreamtest.NewRemote(t, upstreamtest.NewTokenRealm(t, "alice", "s3cret").Middleware)
	c, waits := newClient(t, r, Options{Username: "alice", Password: "wrong"})
	_, _, err := c.Manifest(t.Context(), "app", tagRef("1"))
	if !errors.Is(err, oci.ErrDenied) || len(waits.get()) != 0 {
		t.Errorf("Manifest err = %v after waits %v; want %v without retry", err, waits.get(), oci.ErrDenied)
	}
}

// TestRefusalIsLogged: a refusal is logged once per upstream request at
// WARN, saying whether credentials are configured but never what they are,
// while a probe without credentials is not.
func TestRefusalIsLogged(t *testing.T) {
	const password = "pa55-word-do-not-log"
	tests := []struct {
		name     string
		opts     Options
		call     func(*Client) error
		wantLogs []string // lines at WARN; each must hold all of its fields
	}{
		{
			name: "wrong password",
			opts: Options{Username: "alice", Password: "wrong-" + password},
			call: func(c *Client) error {
				_, _, err := c.Manifest(t.Context(), "app", tagRef("1"))
				return err
			},
			wantLogs: []string{"credentials=true"},
		},
		{
			name: "anonymous",
			call: func(c *Client) error {
				_, err := c.HeadManifest(t.Context(), "app", tagRef("1"))
				return err
			},
			wantLogs: []string{"credentials=false"},
		},
		{
			name: "ping",
			call: func(c *Client) error { return c.Ping(t.Context()) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := upstreamtest.NewRemote(t, upstreamtest.NewTokenRealm(t, "alice", password).Middleware)
			var logs bytes.Buffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			c, _ := newClient(t, r, tt.opts)
			err := tt.call(c)
			if len(tt.wantLogs) > 0 && !errors.Is(err, oci.ErrDenied) {
				t.Fatalf("call err = %v, want %v", err, oci.ErrDenied)
			}

			var got []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=WARN") {
					got = append(got, line)
				}
			}
			if len(got) != len(tt.wantLogs) {
				t.Fatalf("WARN lines = %q; want %d", got, len(tt.wantLogs))
			}
			for i, line := range got {
				for _, want := range []string{"check the upstream credentials", "upstream=test", tt.wantLogs[i]} {
					if !strings.Contains(line, want) {
						t.Errorf("WARN line %q lacks %q", line, want)
					}
				}
				if strings.Contains(line, password) {
					t.Errorf("WARN line %q holds the password", line)
				}
			}
		})
	}
}

// TestRealmErrors: what the token realm answers decides the kind, and a
// realm's 404 is never taken for the repository's absence.
func TestRealmErrors(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{http.StatusNotFound, oci.ErrDenied},
		{http.StatusForbidden, oci.ErrDenied},
		{http.StatusServiceUnavailable, oci.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			realm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				upstreamtest.WriteError(w, tt.status, "X")
			}))
			defer realm.Close()
			challenge := upstreamtest.Respond(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.URL+`",service="x"`)
				upstreamtest.WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED")
			})
			r := upstreamtest.NewRemote(t, challenge)
			c, _ := newClient(t, r, Options{Retries: -1})

			_, err := c.HeadManifest(t.Context(), "app", tagRef("1"))
			if !errors.Is(err, tt.want) || IsNotFound(err) {
				t.Errorf("HeadManifest err = %v, want %v and not a not-found", err, tt.want)
			}
		})
	}
}
