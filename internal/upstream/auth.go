package upstream

// Why not ggcr's pkg/v1/remote/transport: transport.NewWithContext pings the
// registry when it is built (New must make no network call), binds one
// transport to a fixed set of scopes, and ignores expires_in, refreshing a
// token only after a 401. breakwater pulls many repositories through one
// client and wants one token per repository scope, reused until shortly
// before it expires. The handshake is small enough to own.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"breakwater/internal/oci"
)

const (
	// defaultTokenLifetime is what the token spec says to assume when the
	// answer has no expires_in.
	defaultTokenLifetime = 60 * time.Second
	// maxRefreshMargin bounds how long before expiry a token is replaced.
	maxRefreshMargin = 30 * time.Second
	// maxTokenBody bounds a token answer; real ones are a few KiB.
	maxTokenBody = 1 << 20
)

type cachedToken struct {
	value     string
	refreshAt time.Time
}

// authTransport adds credentials to requests for the registry's own origin
// and nowhere else, so a redirect to a blob CDN or a search index never
// carries them: Go's http.Client compares host names without ports when it
// decides to forward Authorization, which is not enough. It answers 401
// challenges with the Bearer token or Basic handshake and caches tokens per
// scope. It is safe for concurrent use.
type authTransport struct {
	base     http.RoundTripper
	registry *url.URL
	username string
	password string
	timeout  time.Duration
	rate     *rateRecorder
	now      func() time.Time

	mu     sync.Mutex
	ch     *challenge             // last challenge seen; guarded by mu
	tokens map[string]cachedToken // by scope; guarded by mu
	flight singleflight.Group     // one token fetch per scope at a time
}

type ctxKey int

const (
	scopeKey ctxKey = iota
	noAuthKey
)

// withScope names the token scope requests under ctx need.
func withScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey, scope)
}

// withoutAuth makes requests under ctx go out without credentials and
// return a 401 as it is.
func withoutAuth(ctx context.Context) context.Context {
	return context.WithValue(ctx, noAuthKey, true)
}

func pullScope(repo string) string { return "repository:" + repo + ":pull" }

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, t.registry) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	if ctx.Value(noAuthKey) != nil {
		return t.sendAndLearn(req)
	}
	scope, _ := ctx.Value(scopeKey).(string)

	// 1. Send with what we already know: a cached or fresh token, Basic
	// credentials, or nothing before the first challenge.
	authz, fresh, err := t.authorization(ctx, scope)
	if err != nil {
		return nil, err
	}
	resp, err := t.send(req, authz)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}

	// 2. On a 401, learn the challenge and drop the token that failed. A
	// token or credentials fetched for this very request are not retried:
	// the remote has already refused them.
	ch, ok := parseChallenges(resp.Header.Values("WWW-Authenticate"))
	if !ok {
		return resp, nil
	}
	t.learn(ch, scope)
	if fresh {
		return resp, nil
	}

	// 3. Handshake once more and resend.
	authz, _, err = t.authorization(ctx, scope)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if authz == "" {
		return resp, nil
	}
	drain(resp)
	return t.send(req, authz)
}

// sendAndLearn sends req without credentials and remembers the challenge
// of a 401, so that a ping at start-up saves the first pull a round trip.
func (t *authTransport) sendAndLearn(req *http.Request) (*http.Response, error) {
	resp, err := t.send(req, "")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if ch, ok := parseChallenges(resp.Header.Values("WWW-Authenticate")); ok {
		t.mu.Lock()
		t.ch = ch
		t.mu.Unlock()
	}
	return resp, nil
}

// send sends a copy of req with the Authorization header authz (none if
// empty) and records the remote's rate-limit headers.
func (t *authTransport) send(req *http.Request, authz string) (*http.Response, error) {
	out := req.Clone(req.Context())
	if authz != "" {
		out.Header.Set("Authorization", authz)
	}
	resp, err := t.base.RoundTrip(out)
	if err == nil {
		t.rate.record(resp.Header, t.now())
	}
	return resp, err
}

// authorization returns the Authorization header value for scope, fetching
// a token if the remote asked for one and none is cached. fresh reports
// that the value was not reused from an earlier request.
func (t *authTransport) authorization(
	ctx context.Context,
	scope string,
) (authz string, fresh bool, err error) {
	t.mu.Lock()
	ch := t.ch
	t.mu.Unlock()

	switch {
	case ch == nil:
		return "", false, nil
	case ch.scheme == "basic":
		if t.username == "" && t.password == "" {
			return "", true, nil
		}
		return "Basic " + basicAuth(t.username, t.password), true, nil
	}
	if value, ok := t.cached(scope); ok {
		return "Bearer " + value, false, nil
	}
	value, err := t.token(ctx, ch, scope)
	if err != nil {
		return "", true, err
	}
	return "Bearer " + value, true, nil
}

// cached returns the token for scope unless it is due for refresh.
func (t *authTransport) cached(scope string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tok, ok := t.tokens[scope]
	if !ok || !t.now().Before(tok.refreshAt) {
		return "", false
	}
	return tok.value, true
}

// learn remembers ch as the remote's way of authenticating and forgets the
// token for scope, which the remote just refused.
func (t *authTransport) learn(ch *challenge, scope string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ch = ch
	delete(t.tokens, scope)
}

// token fetches a token for scope, once for all concurrent callers. The
// fetch is detached from the first caller's cancellation so that one
// client going away does not fail the others waiting for the same token.
func (t *authTransport) token(ctx context.Context, ch *challenge, scope string) (string, error) {
	res := t.flight.DoChan(scope, func() (any, error) {
		// A fetch that finished between our cache miss and this flight
		// has left a token behind: use it rather than fetch another.
		if value, ok := t.cached(scope); ok {
			return value, nil
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.timeout)
		defer cancel()
		return t.fetchToken(fctx, ch, scope)
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r := <-res:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

// tokenAnswer is the token endpoint's JSON. Docker's spec names the field
// token, OAuth2 access_token; registries send either or both.
type tokenAnswer struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

func (t *authTransport) fetchToken(ctx context.Context, ch *challenge, scope string) (string, error) {
	realm, err := t.realm(ch)
	if err != nil {
		return "", err
	}

	// 1. Ask the realm for our scope. The challenge's scope belongs to the
	// request that drew it, which may be for another repository; it is
	// used only when we have no scope of our own.
	q := realm.Query()
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	scopes := []string{scope}
	if scope == "" {
		scopes = strings.Fields(ch.params["scope"])
	}
	for _, s := range scopes {
		q.Add("scope", s)
	}
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", fmt.Errorf("build token request: %w", err)
	}
	if t.username != "" || t.password != "" {
		req.Header.Set("Authorization", "Basic "+basicAuth(t.username, t.password))
	}

	// 2. Send it without following redirects: the credentials are for the
	// realm alone.
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("fetch token from %s: %w", realm.Host, unavailable(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Not a StatusError: a realm's 404 says nothing about the
		// repository, so IsNotFound must not see it.
		kind := kindOf(resp.StatusCode, nil, oci.ErrDenied)
		return "", fmt.Errorf("fetch token from %s: realm answered %d: %w", realm.Host, resp.StatusCode, kind)
	}

	// 3. Read the token and cache it until shortly before it expires.
	var ans tokenAnswer
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	if err != nil {
		return "", fmt.Errorf("read token from %s: %w", realm.Host, unavailable(err))
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return "", fmt.Errorf("decode token from %s: %w", realm.Host, unavailable(err))
	}
	value := ans.Token
	if value == "" {
		value = ans.AccessToken
	}
	if value == "" {
		return "", fmt.Errorf("decode token from %s: answer has no token: %w", realm.Host, oci.ErrUnavailable)
	}
	t.store(scope, value, time.Duration(ans.ExpiresIn)*time.Second)
	return value, nil
}

// realm validates the challenge's realm. Credentials are never sent in
// clear text to a realm when the registry itself is spoken to over TLS.
func (t *authTransport) realm(ch *challenge) (*url.URL, error) {
	realm, err := url.Parse(ch.params["realm"])
	if err != nil || !isHTTP(realm) {
		return nil, fmt.Errorf("token realm %q is not an http(s) URL: %w", ch.params["realm"], oci.ErrUnavailable)
	}
	if realm.Scheme == "http" && t.registry.Scheme == "https" {
		return nil, fmt.Errorf("token realm %s downgrades to http: %w", realm.Host, oci.ErrDenied)
	}
	return realm, nil
}

func (t *authTransport) store(scope, value string, lifetime time.Duration) {
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	margin := min(lifetime/10, maxRefreshMargin)
	now := t.now()

	t.mu.Lock()
	defer t.mu.Unlock()
	// Drop expired tokens so the map stays as small as the set of
	// repositories pulled within a token lifetime.
	for s, tok := range t.tokens {
		if !now.Before(tok.refreshAt) {
			delete(t.tokens, s)
		}
	}
	t.tokens[scope] = cachedToken{value: value, refreshAt: now.Add(lifetime - margin)}
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// sameOrigin reports whether u is on the registry's scheme, host and port,
// the only place our credentials may go.
func sameOrigin(u, registry *url.URL) bool {
	return strings.EqualFold(u.Scheme, registry.Scheme) &&
		strings.EqualFold(hostPort(u), hostPort(registry))
}

func hostPort(u *url.URL) string {
	port := u.Port()
	switch {
	case port != "":
	case strings.EqualFold(u.Scheme, "https"):
		port = "443"
	default:
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// drain reads a little of a body we discard so the connection can be
// reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}
