package upstream

// The remote used by the tests: ggcr's in-memory registry on httptest,
// wrapped by small middlewares for each way a real remote behaves.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type middleware func(http.Handler) http.Handler

// testRemote is an in-memory registry: pushes go to push (unwrapped), the
// client under test talks to srv (wrapped).
type testRemote struct {
	reg  http.Handler
	push *httptest.Server
	srv  *httptest.Server
	// requests counts requests reaching srv, before any middleware.
	requests atomic.Int64
}

func newRemote(t *testing.T, mws ...middleware) *testRemote {
	t.Helper()
	r := &testRemote{reg: registry.New(registry.WithReferrersSupport(true), registry.Logger(nopLogger()))}
	r.push = httptest.NewServer(r.reg)
	t.Cleanup(r.push.Close)

	var h http.Handler = r.reg
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// pushImage pushes a random image as repo:tag and returns it.
func (r *testRemote) pushImage(t *testing.T, repo, tag string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	r.write(t, repo, tag, img)
	return img
}

func (r *testRemote) write(t *testing.T, repo, tag string, img remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(r.push.URL, "http://")+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatalf("parse reference: %v", err)
	}
	switch v := img.(type) {
	case v1.Image:
		err = remote.Write(ref, v)
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, v)
	default:
		err = remote.Put(ref, v)
	}
	if err != nil {
		t.Fatalf("push %s:%s: %v", repo, tag, err)
	}
}

// newClient returns a client of r with fast retries and recorded waits.
func newClient(t *testing.T, r *testRemote, opts Options) (*Client, *[]time.Duration) {
	t.Helper()
	opts.URL = r.srv.URL
	if opts.Name == "" {
		opts.Name = "test"
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.backoff = time.Millisecond
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, waits
}

// requireBasic demands user:pass on every request.
func requireBasic(user, pass string) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
				writeError(w, http.StatusUnauthorized, "UNAUTHORIZED")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// tokenRealm is a token service on its own server and the middleware that
// makes the registry demand its tokens.
type tokenRealm struct {
	t         *testing.T
	srv       *httptest.Server
	user      string // "" accepts anonymous requests
	pass      string
	expiresIn int    // seconds; 0 leaves expires_in out
	field     string // "token" or "access_token"

	mu      sync.Mutex
	fetches map[string]int    // by scope; guarded by mu
	valid   map[string]string // token -> scope; guarded by mu
	n       int               // guarded by mu
}

func newTokenRealm(t *testing.T, user, pass string) *tokenRealm {
	t.Helper()
	tr := &tokenRealm{t: t, user: user, pass: pass, expiresIn: 300, field: "token", fetches: map[string]int{}, valid: map[string]string{}}
	tr.srv = httptest.NewServer(http.HandlerFunc(tr.serveToken))
	t.Cleanup(tr.srv.Close)
	return tr
}

func (tr *tokenRealm) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("service") != "test-registry" {
		tr.t.Errorf("token request for service %q, want test-registry", r.URL.Query().Get("service"))
	}
	if tr.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != tr.user || p != tr.pass {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED")
			return
		}
	}
	scope := strings.Join(r.URL.Query()["scope"], " ")

	tr.mu.Lock()
	tr.n++
	tok := fmt.Sprintf("tok-%d", tr.n)
	tr.fetches[scope]++
	tr.valid[tok] = scope
	tr.mu.Unlock()

	ans := map[string]any{tr.field: tok}
	if tr.expiresIn > 0 {
		ans["expires_in"] = tr.expiresIn
	}
	_ = json.NewEncoder(w).Encode(ans)
}

func (tr *tokenRealm) fetchCount(scope string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.fetches[scope]
}

// revokeAll makes every token issued so far invalid.
func (tr *tokenRealm) revokeAll() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	clear(tr.valid)
}

// middleware demands a Bearer token for the repository in the path. It
// fails the test if it ever sees Basic credentials, which belong to the
// realm alone.
func (tr *tokenRealm) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if strings.HasPrefix(authz, "Basic ") {
			tr.t.Errorf("registry saw Basic credentials meant for the realm")
		}
		scope := ""
		if repo := repoOf(r.URL.Path); repo != "" {
			scope = "repository:" + repo + ":pull"
		}
		tr.mu.Lock()
		got, ok := tr.valid[strings.TrimPrefix(authz, "Bearer ")]
		tr.mu.Unlock()
		if !ok || !strings.Contains(got, scope) {
			ch := fmt.Sprintf(`Bearer realm="%s/token",service="test-registry"`, tr.srv.URL)
			if scope != "" {
				ch += fmt.Sprintf(`,scope="%s"`, scope)
			}
			w.Header().Set("WWW-Authenticate", ch)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// repoOf returns the repository of a /v2/<repo>/<kind>/... path.
func repoOf(path string) string {
	p := strings.TrimPrefix(path, "/v2/")
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, kind); i > 0 {
			return p[:i]
		}
	}
	return ""
}

// cdn serves blobs redirected to it from the registry and fails the test
// if a request carries any Authorization header.
func newCDN(t *testing.T, r *testRemote) *httptest.Server {
	t.Helper()
	var cdn *httptest.Server
	cdn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "" {
			t.Errorf("blob CDN saw an Authorization header")
			http.Error(w, "credentials sent to the CDN", http.StatusBadRequest)
			return
		}
		r.reg.ServeHTTP(w, req)
	}))
	t.Cleanup(cdn.Close)
	return cdn
}

// redirectBlobs sends blob GETs to cdn.
func redirectBlobs(cdn func() string) middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				http.Redirect(w, r, cdn()+r.URL.Path+"?signature=secret", http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// failFirst answers the first n requests matching match with status (and
// Retry-After if retryAfter is not empty), then lets requests through.
func failFirst(n int64, status int, retryAfter string, match func(*http.Request) bool) (middleware, *atomic.Int64) {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && seen.Add(1) <= n {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				writeError(w, status, "UNAVAILABLE")
				return
			}
			next.ServeHTTP(w, r)
		})
	}, &seen
}

func isManifest(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }
func isBlob(r *http.Request) bool     { return strings.Contains(r.URL.Path, "/blobs/") }

// rewriteManifests changes manifest bodies with edit and keeps every
// header, Docker-Content-Digest included: a lying or truncating remote.
// With truncate, Content-Length stays that of the full body, so the
// connection ends short.
func rewriteManifests(n int64, edit func([]byte) []byte, truncate bool) (middleware, *atomic.Int64) {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isManifest(r) || r.Method != http.MethodGet || seen.Add(1) > n {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			if truncate {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(rec.Code)
				_, _ = w.Write(body[:len(body)/2])
				return
			}
			body = edit(body)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}, &seen
}

// rateLimitHeaders adds Docker Hub's quota headers, counting down.
func rateLimitHeaders() middleware {
	var left atomic.Int64
	left.Store(100)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("RateLimit-Limit", "100;w=21600")
			w.Header().Set("RateLimit-Remaining", fmt.Sprintf("%d;w=21600", left.Add(-1)))
			next.ServeHTTP(w, r)
		})
	}
}

// paginateTags makes the tag list answer two tags a page with a relative
// Link to the next, as distribution does.
func paginateTags(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		q.Set("n", "2")
		r2 := r.Clone(r.Context())
		r2.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r2)

		var list struct {
			Tags []string `json:"tags"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &list)
		if len(list.Tags) == 2 {
			v := url.Values{"n": {"2"}, "last": {list.Tags[1]}}
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, v.Encode()))
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"test says %s"}]}`, code, strings.ToLower(code))
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
