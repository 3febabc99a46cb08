package upstreamtest

import (
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

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Middleware wraps the remote's handler.
type Middleware func(http.Handler) http.Handler

// Remote is an in-memory registry. Pushes go straight to it; the client
// under test talks to URL, through the middlewares. It is safe for
// concurrent use.
type Remote struct {
	// URL is where the client under test talks to.
	URL string
	// Registry is the in-memory registry, without middlewares.
	Registry http.Handler
	// Server serves URL.
	Server *httptest.Server

	push     *httptest.Server
	requests atomic.Int64
}

// NewRemote starts a remote whose requests pass through mws, the first
// outermost. It stops when the test ends.
func NewRemote(t testing.TB, mws ...Middleware) *Remote {
	t.Helper()
	r := &Remote{Registry: registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))}
	r.push = httptest.NewServer(r.Registry)
	t.Cleanup(r.push.Close)

	h := r.Registry
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(r.Server.Close)
	r.URL = r.Server.URL
	return r
}

// Requests counts the requests that reached URL.
func (r *Remote) Requests() int64 { return r.requests.Load() }

// PushImage pushes a random image as repo:tag and returns it.
func (r *Remote) PushImage(t testing.TB, repo, tag string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	r.Write(t, repo, tag, img)
	return img
}

// Write pushes an image, an index or any other manifest as repo:tag.
func (r *Remote) Write(t testing.TB, repo, tag string, m remote.Taggable) {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(r.push.URL, "http://")+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatalf("parse reference: %v", err)
	}
	switch v := m.(type) {
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

// RequireBasic demands user:pass on every request, as distribution with
// htpasswd does.
func RequireBasic(user, pass string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
				WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TokenRealm is a token service on a server of its own and, with
// Middleware, a registry that demands its tokens. It is safe for
// concurrent use; set the fields before the first request.
type TokenRealm struct {
	// URL is the realm.
	URL string
	// ExpiresIn is the token lifetime in seconds the answer states; 0
	// leaves expires_in out.
	ExpiresIn int
	// Field names the token in the answer: "token" or "access_token".
	Field string

	t    testing.TB
	user string
	pass string

	mu      sync.Mutex
	fetches map[string]int    // by scope; guarded by mu
	valid   map[string]string // token -> scope; guarded by mu
	n       int               // guarded by mu
}

// Service is the service name the realm's challenge names and checks.
const Service = "test-registry"

// NewTokenRealm starts a realm that issues tokens to user:pass, or to
// anyone when user is empty.
func NewTokenRealm(t testing.TB, user, pass string) *TokenRealm {
	t.Helper()
	tr := &TokenRealm{t: t, user: user, pass: pass, ExpiresIn: 300, Field: "token", fetches: map[string]int{}, valid: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(tr.serveToken))
	t.Cleanup(srv.Close)
	tr.URL = srv.URL + "/token"
	return tr
}

func (tr *TokenRealm) serveToken(w http.ResponseWriter, r *http.Request) {
	if got := r.URL.Query().Get("service"); got != Service {
		tr.t.Errorf("token request for service %q, want %q", got, Service)
	}
	if tr.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != tr.user || p != tr.pass {
			WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED")
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

	ans := map[string]any{tr.Field: tok}
	if tr.ExpiresIn > 0 {
		ans["expires_in"] = tr.ExpiresIn
	}
	_ = json.NewEncoder(w).Encode(ans)
}

// Fetches counts the tokens issued for scope.
func (tr *TokenRealm) Fetches(scope string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.fetches[scope]
}

// RevokeAll makes every token issued so far invalid.
func (tr *TokenRealm) RevokeAll() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	clear(tr.valid)
}

// Middleware demands a token for the repository in the path, answering
// 401 with a Bearer challenge as Docker Hub does. It fails the test if it
// ever sees Basic credentials, which belong to the realm alone.
func (tr *TokenRealm) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if strings.HasPrefix(authz, "Basic ") {
			tr.t.Errorf("registry saw Basic credentials meant for the realm")
		}
		scope := ""
		if repo := RepoOf(r.URL.Path); repo != "" {
			scope = PullScope(repo)
		}
		tr.mu.Lock()
		got, ok := tr.valid[strings.TrimPrefix(authz, "Bearer ")]
		tr.mu.Unlock()
		if !ok || !strings.Contains(got, scope) {
			ch := fmt.Sprintf(`Bearer realm=%q,service=%q`, tr.URL, Service)
			if scope != "" {
				ch += fmt.Sprintf(`,scope=%q`, scope)
			}
			w.Header().Set("WWW-Authenticate", ch)
			WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// PullScope is the token scope for pulling repo.
func PullScope(repo string) string { return "repository:" + repo + ":pull" }

// RepoOf returns the repository of a /v2/<repo>/<kind>/... path, or "".
func RepoOf(path string) string {
	p := strings.TrimPrefix(path, "/v2/")
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
		if i := strings.LastIndex(p, kind); i > 0 {
			return p[:i]
		}
	}
	return ""
}

// NewCDN starts a blob CDN for r that fails the test if a request carries
// any Authorization header.
func NewCDN(t testing.TB, r *Remote) *httptest.Server {
	t.Helper()
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "" {
			t.Errorf("blob CDN saw an Authorization header")
			http.Error(w, "credentials sent to the CDN", http.StatusBadRequest)
			return
		}
		r.Registry.ServeHTTP(w, req)
	}))
	t.Cleanup(cdn.Close)
	return cdn
}

// RedirectBlobs answers blob GETs with a redirect to the CDN at cdn(),
// with a query standing in for a pre-signed URL's signature.
func RedirectBlobs(cdn func() string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && IsBlob(r) {
				http.Redirect(w, r, cdn()+r.URL.Path+"?"+Signature, http.StatusTemporaryRedirect)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Signature is the query RedirectBlobs adds; it must not appear in errors
// or logs.
const Signature = "signature=secret"

// FailFirst answers the first n requests matching match with status (and
// Retry-After if retryAfter is not empty), then lets requests through. The
// counter counts matching requests.
func FailFirst(n int64, status int, retryAfter string, match func(*http.Request) bool) (Middleware, *atomic.Int64) {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && seen.Add(1) <= n {
				if retryAfter != "" {
					w.Header().Set("Retry-After", retryAfter)
				}
				WriteError(w, status, "UNAVAILABLE")
				return
			}
			next.ServeHTTP(w, r)
		})
	}, &seen
}

// IsManifest and IsBlob match requests for FailFirst.
func IsManifest(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }
func IsBlob(r *http.Request) bool     { return strings.Contains(r.URL.Path, "/blobs/") }

// RewriteManifests changes the first n manifest GET answers with edit and
// keeps every header, Docker-Content-Digest included: a lying remote.
// With truncate, edit is ignored and the body stops half way while
// Content-Length promises all of it. The counter counts manifest GETs.
func RewriteManifests(n int64, edit func([]byte) []byte, truncate bool) (Middleware, *atomic.Int64) {
	var seen atomic.Int64
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !IsManifest(r) || r.Method != http.MethodGet || seen.Add(1) > n {
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

// RateLimitHeaders adds Docker Hub's quota headers to every answer:
// RateLimit-Limit 100 and a RateLimit-Remaining that counts down from 99,
// both over a 21600 s window.
func RateLimitHeaders() Middleware {
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

// PaginateTags makes tag lists come two to a page with a relative Link to
// the next page, as distribution does.
func PaginateTags(next http.Handler) http.Handler {
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

// Respond answers every request with handler, replacing the registry:
// for edge cases no real registry produces on demand.
func Respond(handler http.HandlerFunc) Middleware {
	return func(http.Handler) http.Handler { return handler }
}

// WriteError writes an OCI error body with code.
func WriteError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"test says %s"}]}`, code, strings.ToLower(code))
}
