package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/auth"
	"breakwater/internal/store/sqlite"
)

// Passwords of the users every guard test has.
const (
	readerPassword = "reader-password-1"
	adminPassword  = "admin-password-12"
)

// guardEnv is a token service and a guarded stand-in for the registry
// over a real SQLite store, with a clock the test moves.
type guardEnv struct {
	svc  *auth.Service
	srv  *httptest.Server
	opts auth.GuardOptions

	mu  sync.Mutex
	now time.Time
}

// newGuardEnv starts the pair with users "reader" and "admin". The
// stand-in registry answers 200 with the principal it was given as JSON,
// to any method.
func newGuardEnv(t *testing.T, opts auth.GuardOptions) *guardEnv {
	t.Helper()
	meta, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	e := &guardEnv{now: time.Now(), opts: opts}
	e.svc, err = auth.New(auth.Options{Store: meta, Now: e.clock, LoginLimit: 3, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.svc.AddUser(ctx, "reader", auth.RoleReader, readerPassword); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddUser(ctx, "admin", auth.RoleAdmin, adminPassword); err != nil {
		t.Fatal(err)
	}
	registry := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no principal", http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(p)
	})
	tokens := e.svc.TokenHandler(opts)
	guard := e.svc.RegistryGuard(registry, opts)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == auth.TokenPath {
			tokens.ServeHTTP(w, r)
			return
		}
		guard.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *guardEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *guardEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// host is the server's host:port, the service name when PublicURL is unset.
func (e *guardEnv) host() string { return strings.TrimPrefix(e.srv.URL, "http://") }

// response is what a test looks at of an answer.
type response struct {
	status    int
	challenge string
	body      string
	header    http.Header
}

// do sends a request; auth is the whole Authorization header or "".
func (e *guardEnv) do(t *testing.T, method, path, authz string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b), resp.Header}
}

// principal decodes the stand-in registry's answer.
func (r response) principal(t *testing.T) auth.Principal {
	t.Helper()
	var p auth.Principal
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("registry answer %d %q is no principal: %v", r.status, r.body, err)
	}
	return p
}

func basic(user, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

func bearer(tok string) string { return "Bearer " + tok }

// token gets a registry token for scopes with the Authorization header
// authz ("" for anonymous), failing unless the service answers 200.
func (e *guardEnv) token(t *testing.T, authz string, scopes ...string) string {
	t.Helper()
	q := url.Values{"service": {e.host()}, "scope": scopes}
	r := e.do(t, http.MethodGet, auth.TokenPath+"?"+q.Encode(), authz)
	if r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.body)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Token == "" || body.Token != body.AccessToken {
		t.Fatalf("token %q and access_token %q must be the same JWT", body.Token, body.AccessToken)
	}
	if _, err := time.Parse(time.RFC3339, body.IssuedAt); err != nil || body.ExpiresIn <= 0 {
		t.Fatalf("issued_at %q, expires_in %d", body.IssuedAt, body.ExpiresIn)
	}
	return body.Token
}

// errorCode returns the first code of a registry error body.
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var b struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &b); err != nil || len(b.Errors) == 0 {
		t.Fatalf("body %q is not the registry's error format: %v", body, err)
	}
	return b.Errors[0].Code
}

func TestChallenge(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		method    string
		path      string
		authz     string
		// want is the challenge with HOST for the server's host:port.
		want string
	}{
		{"base", "", "GET", "/v2/", "", `Bearer realm="http://HOST/auth/token",service="HOST"`},
		{"manifest", "", "GET", "/v2/library/debian/manifests/12", "",
			`Bearer realm="http://HOST/auth/token",service="HOST",scope="repository:library/debian:pull"`},
		{"blob head", "", "HEAD", "/v2/ghcr.io/org/app/blobs/sha256:" + strings.Repeat("a", 64), "",
			`Bearer realm="http://HOST/auth/token",service="HOST",scope="repository:ghcr.io/org/app:pull"`},
		{"tags", "", "GET", "/v2/debian/tags/list", "", `Bearer realm="http://HOST/auth/token",service="HOST",scope="repository:debian:pull"`},
		{"catalog", "", "GET", "/v2/_catalog", "", `Bearer realm="http://HOST/auth/token",service="HOST",scope="registry:catalog:*"`},
		{"search", "", "GET", "/v1/search?q=debian", "", `Bearer realm="http://HOST/auth/token",service="HOST"`},
		{"invalid name has no scope", "", "GET", "/v2/Bad%22Name/manifests/1", "", `Bearer realm="http://HOST/auth/token",service="HOST"`},
		{"anonymous push", "", "POST", "/v2/debian/blobs/uploads/", "", `Bearer realm="http://HOST/auth/token",service="HOST"`},
		{"public url", "https://registry.example.com/", "GET", "/v2/debian/manifests/12", "",
			`Bearer realm="https://registry.example.com/auth/token",service="registry.example.com",scope="repository:debian:pull"`},
		{"public url with port and path", "http://10.0.0.1:8080/bw", "GET", "/v2/", "",
			`Bearer realm="http://10.0.0.1:8080/bw/auth/token",service="10.0.0.1:8080"`},
		{"wrong password", "", "GET", "/v2/debian/manifests/12", basic("reader", "wrong-password-1"),
			`Bearer realm="http://HOST/auth/token",service="HOST",scope="repository:debian:pull"`},
		{"garbage bearer", "", "GET", "/v2/debian/manifests/12", "Bearer not-a-jwt",
			`Bearer realm="http://HOST/auth/token",service="HOST",scope="repository:debian:pull",error="invalid_token"`},
		{"unknown scheme", "", "GET", "/v2/", "Digest x", `Bearer realm="http://HOST/auth/token",service="HOST"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newGuardEnv(t, auth.GuardOptions{PublicURL: tt.publicURL})
			r := e.do(t, tt.method, tt.path, tt.authz)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", r.status, r.body)
			}
			if want := strings.ReplaceAll(tt.want, "HOST", e.host()); r.challenge != want {
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", r.challenge, want)
			}
			if got := r.header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version %q, want registry/2.0", got)
			}
			if tt.method != http.MethodHead {
				if code := errorCode(t, r.body); code != "UNAUTHORIZED" {
					t.Errorf("error code %s, want UNAUTHORIZED", code)
				}
			}
		})
	}
}

// claims reads a registry token's claims without checking them.
func claims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// accessOf writes a token's access claim as "type:name:actions" lines.
func accessOf(t *testing.T, tok string) []string {
	t.Helper()
	raw, _ := json.Marshal(claims(t, tok)["access"])
	var access []auth.Access
	if err := json.Unmarshal(raw, &access); err != nil {
		t.Fatalf("access claim %s: %v", raw, err)
	}
	out := []string{}
	for _, a := range access {
		out = append(out, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	return out
}

func TestTokenGrants(t *testing.T) {
	tests := []struct {
		name   string
		authz  string
		scopes []string
		want   []string
	}{
		{"pull", basic("reader", readerPassword), []string{"repository:library/debian:pull"}, []string{"repository:library/debian:pull"}},
		{"push reduced to pull", basic("reader", readerPassword), []string{"repository:library/debian:pull,push"}, []string{"repository:library/debian:pull"}},
		{"push alone dropped", basic("reader", readerPassword), []string{"repository:library/debian:push"}, []string{}},
		{"star is pull", basic("admin", adminPassword), []string{"repository:app:*"}, []string{"repository:app:pull"}},
		{"delete dropped", basic("admin", adminPassword), []string{"repository:app:delete"}, []string{}},
		{"catalog for reader dropped", basic("reader", readerPassword), []string{"registry:catalog:*"}, []string{}},
		{"catalog for admin", basic("admin", adminPassword), []string{"registry:catalog:*"}, []string{"registry:catalog:*"}},
		{"several, one parameter each", basic("reader", readerPassword), []string{"repository:a:pull", "repository:ghcr.io/b/c:pull"},
			[]string{"repository:a:pull", "repository:ghcr.io/b/c:pull"}},
		{"several in one parameter", basic("reader", readerPassword), []string{"repository:a:pull repository:b:pull"}, []string{"repository:a:pull", "repository:b:pull"}},
		{"duplicate once", basic("reader", readerPassword), []string{"repository:a:pull", "repository:a:pull,push"}, []string{"repository:a:pull"}},
		{"invalid name dropped", basic("reader", readerPassword), []string{"repository:UPPER/case:pull", "repository:a:pull"}, []string{"repository:a:pull"}},
		{"malformed scope dropped", basic("reader", readerPassword), []string{"repository", "nonsense:x", "repository:a:pull"}, []string{"repository:a:pull"}},
		{"resource class", basic("reader", readerPassword), []string{"repository(plugin):a:pull"}, []string{"repository:a:pull"}},
		{"no scope (docker login)", basic("reader", readerPassword), nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newGuardEnv(t, auth.GuardOptions{})
			got := accessOf(t, e.token(t, tt.authz, tt.scopes...))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("access %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTokenClaims(t *testing.T) {
	e := newGuardEnv(t, auth.GuardOptions{TokenTTL: 2 * time.Minute})
	ctx := context.Background()
	secret, info, err := e.svc.CreateToken(ctx, "reader", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		authz   string
		sub     string
		tokenID any
	}{
		{"password", basic("reader", readerPassword), "reader", nil},
		{"api token", basic("reader", secret), "reader", info.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := claims(t, e.token(t, tt.authz, "repository:a:pull"))
			if c["iss"] != "breakwater" || c["sub"] != tt.sub {
				t.Errorf("iss %v sub %v, want breakwater and %s", c["iss"], c["sub"], tt.sub)
			}
			if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != e.host() {
				t.Errorf("aud %v, want [%s]", c["aud"], e.host())
			}
			exp, _ := c["exp"].(float64)
			iat, _ := c["iat"].(float64)
			nbf, _ := c["nbf"].(float64)
			if exp-iat != 120 || nbf != iat {
				t.Errorf("iat %v nbf %v exp %v, want exp = iat + 120s and nbf = iat", iat, nbf, exp)
			}
			if jti, _ := c["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q, want a random id", jti)
			}
			if c["bw_token_id"] != tt.tokenID {
				t.Errorf("bw_token_id %v, want %v", c["bw_token_id"], tt.tokenID)
			}
		})
	}
}

func TestTokenRequests(t *testing.T) {
	tests := []struct {
		name      string
		anonymous bool
		method    string
		query     string
		form      url.Values
		authz     string
		status    int
		// want is a substring of the body.
		want string
	}{
		{"anonymous refused", false, "GET", "scope=repository:a:pull", nil, "", 401, `"code":"UNAUTHORIZED"`},
		{"anonymous allowed", true, "GET", "scope=repository:a:pull", nil, "", 200, `"access_token"`},
		{"wrong password", false, "GET", "", nil, basic("reader", "wrong-password-1"), 401, `"code":"UNAUTHORIZED"`},
		{"unknown user", true, "GET", "", nil, basic("nobody", readerPassword), 401, `"code":"UNAUTHORIZED"`},
		{"other service", false, "GET", "service=elsewhere.example.com", nil, basic("reader", readerPassword), 400, "set auth.public_url"},
		{"oauth password grant", false, "POST", "", url.Values{"grant_type": {"password"}, "username": {"reader"}, "password": {readerPassword},
			"scope": {"repository:a:pull repository:b:push"}, "client_id": {"docker"}}, "", 200, `"scope":"repository:a:pull"`},
		{"oauth wrong password", false, "POST", "", url.Values{"grant_type": {"password"}, "username": {"reader"}, "password": {"nope-nope-nope"}}, "", 401, `"error":"invalid_grant"`},
		{"oauth refresh token", false, "POST", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "", 400, `"error":"unsupported_grant_type"`},
		{"oauth no grant", false, "POST", "", url.Values{"username": {"reader"}}, "", 400, `"error":"invalid_request"`},
		{"method", false, "DELETE", "", nil, "", 405, `"code":"UNSUPPORTED"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newGuardEnv(t, auth.GuardOptions{AnonymousPull: tt.anonymous})
			var body io.Reader
			if tt.form != nil {
				body = strings.NewReader(tt.form.Encode())
			}
			req, _ := http.NewRequest(tt.method, e.srv.URL+auth.TokenPath+"?"+tt.query, body)
			if tt.form != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, b, tt.status, tt.want)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
}

func TestTokenLoginLimit(t *testing.T) {
	e := newGuardEnv(t, auth.GuardOptions{})
	for i := range 3 {
		if r := e.do(t, "GET", auth.TokenPath, basic("reader", "wrong-password-1")); r.status != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.status)
		}
	}
	r := e.do(t, "GET", auth.TokenPath, basic("reader", readerPassword))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("after 3 failures the right password got %d (Retry-After %q), want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	// The registry's basic auth counts against the same limit.
	if r := e.do(t, "GET", "/v2/", basic("reader", readerPassword)); r.status != http.StatusTooManyRequests {
		t.Errorf("registry basic auth after the limit: %d, want 429", r.status)
	}
	e.advance(2 * time.Minute)
	if r := e.do(t, "GET", auth.TokenPath, basic("reader", readerPassword)); r.status != 200 {
		t.Errorf("after the window: %d %s, want 200", r.status, r.body)
	}
}

func TestGuardBearer(t *testing.T) {
	e := newGuardEnv(t, auth.GuardOptions{TokenTTL: time.Minute})
	ctx := context.Background()
	const manifest = "/v2/library/debian/manifests/12"
	readerTok := e.token(t, basic("reader", readerPassword), "repository:library/debian:pull")
	adminTok := e.token(t, basic("admin", adminPassword), "registry:catalog:*")
	readerCatalogTok := e.token(t, basic("reader", readerPassword), "registry:catalog:*")
	loginTok := e.token(t, basic("reader", readerPassword))

	key, err := e.svc.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(method jwt.SigningMethod, key any, mut func(c jwt.MapClaims)) string {
		c := claims(t, readerTok)
		mut(c)
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	same := func(jwt.MapClaims) {}
	parts := strings.Split(readerTok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(
		[]byte(strings.Replace(string(payload), "library/debian", "library/ubuntu", 1))) + "." + parts[2]

	tests := []struct {
		name   string
		path   string
		token  string
		status int
		// challengeErr is the error= of the challenge on a 401.
		challengeErr string
		user         string
	}{
		{"granted repository", manifest, readerTok, 200, "", "reader"},
		{"blob of granted repository", "/v2/library/debian/blobs/sha256:" + strings.Repeat("b", 64), readerTok, 200, "", "reader"},
		{"base with login token", "/v2/", loginTok, 200, "", "reader"},
		{"other repository", "/v2/library/ubuntu/manifests/24.04", readerTok, 401, "insufficient_scope", ""},
		{"prefix of granted name", "/v2/library/manifests/12", readerTok, 401, "insufficient_scope", ""},
		{"catalog without scope", "/v2/_catalog", readerTok, 401, "insufficient_scope", ""},
		{"catalog for admin", "/v2/_catalog", adminTok, 200, "", "admin"},
		{"catalog scope, reader", "/v2/_catalog", readerCatalogTok, 401, "insufficient_scope", ""},
		{"other key", manifest, sign(jwt.SigningMethodHS256, []byte("another key, 32 bytes long......"), same), 401, "invalid_token", ""},
		{"alg none", manifest, sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, same), 401, "invalid_token", ""},
		{"HS512 with the right key", manifest, sign(jwt.SigningMethodHS512, key, same), 401, "invalid_token", ""},
		{"tampered payload", "/v2/library/ubuntu/manifests/12", tampered, 401, "invalid_token", ""},
		{"other audience", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["aud"] = "elsewhere" }), 401, "invalid_token", ""},
		{"other issuer", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["iss"] = "someone" }), 401, "invalid_token", ""},
		{"no expiry", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { delete(c, "exp") }), 401, "invalid_token", ""},
		{"expired", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["exp"] = e.clock().Add(-time.Minute).Unix() }), 401, "invalid_token", ""},
		{"not yet valid", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["nbf"] = e.clock().Add(time.Hour).Unix() }), 401, "invalid_token", ""},
		{"unknown user", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["sub"] = "mallory" }), 401, "invalid_token", ""},
		{"anonymous token, anonymous off", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { delete(c, "sub") }), 401, "invalid_token", ""},
		{"unknown api token", manifest, sign(jwt.SigningMethodHS256, key, func(c jwt.MapClaims) { c["bw_token_id"] = "0123456789abcdef" }), 401, "invalid_token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, "GET", tt.path, bearer(tt.token))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status == 401 {
				if !strings.HasSuffix(r.challenge, `,error="`+tt.challengeErr+`"`) {
					t.Errorf("challenge %s, want error=%q", r.challenge, tt.challengeErr)
				}
				return
			}
			if p := r.principal(t); p.User != tt.user {
				t.Errorf("principal %+v, want user %s", p, tt.user)
			}
		})
	}

	t.Run("expires with the clock", func(t *testing.T) {
		e.advance(time.Minute + time.Minute) // past the TTL and the leeway
		if r := e.do(t, "GET", manifest, bearer(readerTok)); r.status != 401 || !strings.Contains(r.challenge, `error="invalid_token"`) {
			t.Errorf("expired token: %d %s", r.status, r.challenge)
		}
	})
}

// TestRevokedAtOnce checks that a registry token stops working with the
// credential it was issued for, without waiting for it to expire.
func TestRevokedAtOnce(t *testing.T) {
	e := newGuardEnv(t, auth.GuardOptions{TokenTTL: time.Hour})
	ctx := context.Background()
	const manifest = "/v2/app/manifests/1"
	secret, _, err := e.svc.CreateToken(ctx, "reader", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddUser(ctx, "leaver", auth.RoleReader, "leaver-password"); err != nil {
		t.Fatal(err)
	}
	apiJWT := e.token(t, basic("reader", secret), "repository:app:pull")
	passwordJWT := e.token(t, basic("reader", readerPassword), "repository:app:pull")
	leaverJWT := e.token(t, basic("leaver", "leaver-password"), "repository:app:pull")

	for _, tok := range []string{apiJWT, passwordJWT, leaverJWT} {
		if r := e.do(t, "GET", manifest, bearer(tok)); r.status != 200 {
			t.Fatalf("before revoking: %d %s", r.status, r.body)
		}
	}
	if p := e.do(t, "GET", manifest, bearer(apiJWT)).principal(t); p.Via != auth.ViaToken || p.TokenID == "" {
		t.Errorf("principal of an api token's JWT %+v, want via token with its id", p)
	}
	if err := e.svc.RevokeToken(ctx, "reader", "ci"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteUser(ctx, "leaver"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		authz  string
		status int
	}{
		{"jwt of the revoked api token", bearer(apiJWT), 401},
		{"revoked api token as basic", basic("reader", secret), 401},
		{"jwt of the user's password", bearer(passwordJWT), 200},
		{"jwt of a deleted user", bearer(leaverJWT), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.do(t, "GET", manifest, tt.authz); r.status != tt.status {
				t.Errorf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
		})
	}
	// A token from a password stands for the account as it was: not for
	// one made anew under the same name, nor after a password change.
	t.Run("account changed since", func(t *testing.T) {
		e.advance(time.Millisecond) // within the second the tokens were issued
		if err := e.svc.AddUser(ctx, "leaver", auth.RoleAdmin, "leaver-password-2"); err != nil {
			t.Fatal(err)
		}
		if r := e.do(t, "GET", manifest, bearer(leaverJWT)); r.status != 401 {
			t.Errorf("old leaver's jwt for the new leaver: %d, want 401", r.status)
		}
		if err := e.svc.SetPassword(ctx, "reader", "a-new-reader-password"); err != nil {
			t.Fatal(err)
		}
		if r := e.do(t, "GET", manifest, bearer(passwordJWT)); r.status != 401 {
			t.Errorf("jwt of the old password: %d, want 401", r.status)
		}
		fresh := e.token(t, basic("reader", "a-new-reader-password"), "repository:app:pull")
		if r := e.do(t, "GET", manifest, bearer(fresh)); r.status != 200 {
			t.Errorf("jwt of the new password: %d, want 200", r.status)
		}
	})
	t.Run("expired api token", func(t *testing.T) {
		short, _, err := e.svc.CreateToken(ctx, "reader", "short", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		tok := e.token(t, basic("reader", short), "repository:app:pull")
		if r := e.do(t, "GET", manifest, bearer(tok)); r.status != 200 {
			t.Fatalf("fresh: %d", r.status)
		}
		e.advance(11 * time.Minute) // the JWT (1h) is still valid, the API token is not
		if r := e.do(t, "GET", manifest, bearer(tok)); r.status != 401 {
			t.Errorf("after the api token expired: %d, want 401", r.status)
		}
	})
}

func TestGuardBasicAndAnonymous(t *testing.T) {
	ctx := context.Background()
	const manifest = "/v2/app/manifests/1"
	tests := []struct {
		name      string
		anonymous bool
		method    string
		path      string
		// user and secret are basic credentials, none when user is "";
		// secret TOKEN stands for an API token of reader.
		user, secret string
		status       int
		via          string
	}{
		{"password", false, "GET", manifest, "reader", readerPassword, 200, auth.ViaPassword},
		{"api token", false, "GET", manifest, "reader", "TOKEN", 200, auth.ViaToken},
		{"api token with another user name", false, "GET", manifest, "admin", "TOKEN", 401, ""},
		{"wrong password", false, "GET", manifest, "reader", "wrong-password-1", 401, ""},
		{"wrong password, anonymous on", true, "GET", manifest, "reader", "wrong-password-1", 401, ""},
		{"anonymous off", false, "GET", manifest, "", "", 401, ""},
		{"anonymous on", true, "GET", manifest, "", "", 200, auth.ViaAnonymous},
		{"anonymous on, catalog", true, "GET", "/v2/_catalog", "", "", 200, auth.ViaAnonymous},
		{"anonymous on, search", true, "GET", "/v1/search?q=x", "", "", 200, auth.ViaAnonymous},
		{"catalog, reader", false, "GET", "/v2/_catalog", "reader", readerPassword, 403, ""},
		{"catalog, admin", false, "GET", "/v2/_catalog", "admin", adminPassword, 200, auth.ViaPassword},
		// Writes of a known caller reach the registry, which answers 405.
		{"push, authenticated", false, "POST", "/v2/app/blobs/uploads/", "reader", readerPassword, 200, auth.ViaPassword},
		{"put manifest, authenticated", false, "PUT", manifest, "reader", readerPassword, 200, auth.ViaPassword},
		{"push, anonymous off", false, "POST", "/v2/app/blobs/uploads/", "", "", 401, ""},
		{"delete, anonymous off", false, "DELETE", manifest, "", "", 401, ""},
		{"push, anonymous on", true, "POST", "/v2/app/blobs/uploads/", "", "", 401, ""},
		{"delete, anonymous on", true, "DELETE", manifest, "", "", 401, ""},
		{"unknown path, anonymous off", false, "GET", "/v2/x", "", "", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newGuardEnv(t, auth.GuardOptions{AnonymousPull: tt.anonymous})
			secret, _, err := e.svc.CreateToken(ctx, "reader", "ci", 0)
			if err != nil {
				t.Fatal(err)
			}
			var authz string
			if pw := tt.secret; tt.user != "" {
				if pw == "TOKEN" {
					pw = secret
				}
				authz = basic(tt.user, pw)
			}
			r := e.do(t, tt.method, tt.path, authz)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tt.status, r.body)
			}
			if tt.status == 403 {
				if code := errorCode(t, r.body); code != "DENIED" {
					t.Errorf("code %s, want DENIED", code)
				}
			}
			if tt.status == 200 {
				if p := r.principal(t); p.Via != tt.via {
					t.Errorf("principal %+v, want via %s", p, tt.via)
				}
			}
		})
	}
}
