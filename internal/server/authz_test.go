package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"breakwater/internal/api"
	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/upstream/upstreamtest"
	"breakwater/internal/vulndb"
)

// The authorization matrix: every route of the listener asked by every
// kind of caller, each answer's status as designed. A route added to the
// API without a row here fails TestAuthzMatrix (see apiCoverage).

// The matrix's users.
const (
	mxAdmin, mxAdminPW   = "alice", "alice-password-1"
	mxReader, mxReaderPW = "bob", "bob-password-12"
	// mxRepo is the repository the test upstream holds, as clients name it.
	mxRepo = "library/app"
)

// mxClass is whose answer a caller should get.
type mxClass int

const (
	classAnon   mxClass = iota // no credentials, or credentials this surface ignores
	classWrong                 // credentials that are refused
	classReader                // the reader's
	classAdmin                 // the admin's
)

// mxCaller is one way of asking: no credentials, a user's password or API
// token (Basic), a Bearer token (a registry token or an API token), or a
// dashboard session cookie with its CSRF token.
type mxCaller struct {
	name  string
	class mxClass
	// user is whose credentials these are ({self} in paths); "" for none.
	user string
	// basic is the Basic secret sent with user; "" sends no Basic.
	basic  string
	bearer string
	// session sends user's session cookie, and its CSRF token on changes.
	session bool
}

// as returns c answering as class k on a surface that ignores (or
// refuses) its credentials.
func (c mxCaller) as(k mxClass) mxCaller { c.class = k; return c }

// mxWant is a row's expected status per class, with exceptions by caller
// name.
type mxWant struct {
	anon, reader, admin int
	// wrong is the status of refused credentials; 0 means as anon.
	wrong int
	by    map[string]int
}

// wants is a row's statuses for anonymous, the reader and the admin.
func wants(anon, reader, admin int) mxWant { return mxWant{anon: anon, reader: reader, admin: admin} }

// wantAll is the same status for every caller.
func wantAll(status int) mxWant { return mxWant{anon: status, reader: status, admin: status} }

func (x mxWant) wrongIs(status int) mxWant { x.wrong = status; return x }

func (x mxWant) except(name string, status int) mxWant {
	by := make(map[string]int, len(x.by)+1)
	for k, v := range x.by {
		by[k] = v
	}
	by[name] = status
	x.by = by
	return x
}

func (x mxWant) status(c mxCaller) int {
	if s, ok := x.by[c.name]; ok {
		return s
	}
	switch c.class {
	case classReader:
		return x.reader
	case classAdmin:
		return x.admin
	case classWrong:
		if x.wrong != 0 {
			return x.wrong
		}
	}
	return x.anon
}

// mxSurface is the part of the listener a row belongs to; it decides how a
// session's CSRF token is sent and what a refusal must look like.
type mxSurface int

const (
	surfRegistry mxSurface = iota
	surfToken
	surfAPI
	surfUI
	surfService
)

// mxRow is one request. Paths, JSON bodies and form values may hold
// placeholders that are filled for each request (see expander).
type mxRow struct {
	method, path string
	// route is the OpenAPI operation an API row covers, "GET /api/v1/me".
	route string
	json  string
	form  url.Values
	want  mxWant
	// noCSRF leaves a session's CSRF token out, to show it is required.
	noCSRF bool
	// badCSRF sends a wrong CSRF token instead of the session's.
	badCSRF bool
	// loginToken first fetches the login form's token, as a browser does.
	loginToken bool
	// oauth moves the caller's Basic credentials into the token
	// service's OAuth2 form.
	oauth bool
	// note tells rows of the same request apart.
	note string
}

func (r mxRow) name() string {
	s := r.method + " " + r.path
	if r.note != "" {
		s += " " + r.note
	}
	switch {
	case r.noCSRF:
		s += " without CSRF token"
	case r.badCSRF:
		s += " with a wrong CSRF token"
	}
	return s
}

// authzEnv is a built breakwater behind an httptest server, its upstream
// holding mxRepo:1, with vulnerability data loaded (so the firewall in
// quarantine mode is ready), a quarantine record, a reader and an admin
// with API tokens and registry tokens.
type authzEnv struct {
	s      *Server
	url    string
	host   string
	client *http.Client
	// manifest and layer are digests of the upstream's image.
	manifest, layer digest.Digest
	// record is a quarantine record rows only read.
	record string
	// tokens are API token secrets, jwts registry tokens, by user.
	tokens, jwts map[string]string
	// cheap are low-cost hashes of the users' passwords, by user.
	cheap map[string][]byte
	// sessions are the users' dashboard sessions: cookie and CSRF token.
	sessions map[string][2]string
	n        int
}

var mxPasswords = map[string]string{mxAdmin: mxAdminPW, mxReader: mxReaderPW}

func newAuthzEnv(t *testing.T, anonymousPull bool) *authzEnv {
	t.Helper()
	ctx := context.Background()
	remote := upstreamtest.NewRemote(t)
	img := remote.PushImage(t, mxRepo, "1")
	search := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"num_results":0,"query":"app","results":[]}`)
	}))
	t.Cleanup(search.Close)

	c := testConfig(t, policy.ModeQuarantine)
	c.Upstreams[0].URL = remote.URL
	c.Upstreams[0].SearchURL = search.URL // never the public index
	c.Auth.AnonymousPull = anonymousPull
	c.Auth.LoginLimit = 1 << 20 // the refused callers ask many times
	c.Auth.TokenTTL = time.Hour
	s, err := Build(c, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rec.json"), []byte(osvRecord), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Import(ctx, s.vulndb, dir); err != nil {
		t.Fatalf("import: %v", err)
	}

	e := &authzEnv{
		s: s, url: ts.URL, host: strings.TrimPrefix(ts.URL, "http://"),
		client: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		tokens: map[string]string{}, jwts: map[string]string{}, cheap: map[string][]byte{},
		sessions: map[string][2]string{},
	}
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	e.manifest = digest.Digest(dg.String())
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ld, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	e.layer = digest.Digest(ld.String())

	for _, u := range []struct {
		name string
		role auth.Role
	}{{mxAdmin, auth.RoleAdmin}, {mxReader, auth.RoleReader}} {
		pw := mxPasswords[u.name]
		if err := s.Auth().AddUser(ctx, u.name, u.role, pw); err != nil {
			t.Fatal(err)
		}
		// bcrypt at its default cost takes seconds under the race
		// detector; the same check against a cheap hash keeps the
		// hundreds of password requests affordable.
		if e.cheap[u.name], err = bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost); err != nil {
			t.Fatal(err)
		}
		e.cheapen(t)
		if e.tokens[u.name], _, err = s.Auth().CreateToken(ctx, u.name, "matrix", 0); err != nil {
			t.Fatal(err)
		}
		e.jwts[u.name] = e.registryToken(t, u.name)
	}
	e.record = e.newRecord(t)
	return e
}

// cheapen puts the cheap hash back for a user whose password a row set
// (to the same password) through the service, which hashes at full cost.
func (e *authzEnv) cheapen(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for name, h := range e.cheap {
		u, err := e.s.meta.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if cost, _ := bcrypt.Cost(u.PasswordHash); cost == bcrypt.MinCost {
			continue
		}
		if err := e.s.meta.UpdateUser(ctx, name, store.UserChange{PasswordHash: h, UpdatedAt: u.UpdatedAt}); err != nil {
			t.Fatal(err)
		}
	}
}

// registryToken asks /auth/token, as docker does, for pull of mxRepo and
// the catalog with user's API token.
func (e *authzEnv) registryToken(t *testing.T, user string) string {
	t.Helper()
	q := url.Values{"service": {e.host}, "scope": {"repository:" + mxRepo + ":pull", "registry:catalog:*"}}
	req, err := http.NewRequest(http.MethodGet, e.url+auth.TokenPath+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, e.tokens[user])
	status, _, body := e.roundTrip(t, req)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); status != http.StatusOK || err != nil || tok.Token == "" {
		t.Fatalf("registry token for %s: %d %s", user, status, body)
	}
	return tok.Token
}

// session returns user's session cookie and CSRF token, signing in again
// when a row ended the session (logout, password change).
func (e *authzEnv) session(t *testing.T, user string) (cookie, csrf string) {
	t.Helper()
	ctx := context.Background()
	if s, ok := e.sessions[user]; ok {
		if _, _, err := e.s.Auth().Session(ctx, s[0]); err == nil {
			return s[0], s[1]
		}
	}
	cookie, err := e.s.Auth().Login(ctx, user, mxPasswords[user], "127.0.0.1")
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	_, sess, err := e.s.Auth().Session(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	e.sessions[user] = [2]string{cookie, sess.CSRF}
	return cookie, sess.CSRF
}

// newRecord stores a quarantine record of an image of its own.
func (e *authzEnv) newRecord(t *testing.T) string {
	t.Helper()
	e.n++
	ev, err := json.Marshal(firewall.Evidence{
		Verdict:  policy.Verdict{Result: policy.ResultQuarantine, Reason: "matrix"},
		Platform: "linux/amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.s.meta.PutQuarantine(context.Background(), store.Quarantine{
		ID: fmt.Sprintf("q%016d", e.n), Severity: "critical", MaxScore: 9.8, Upstream: "docker.io",
		Repo: "docker.io/library/evil", Tag: "1", Digest: digest.FromString(fmt.Sprint("image ", e.n)),
		Platform: "linux/amd64", RequestedAt: time.Now().UTC(), RequestedBy: mxReader,
		Policies: []string{"matrix"}, Evidence: ev,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// newUser stores a reader to be deleted or changed by a row.
func (e *authzEnv) newUser(t *testing.T) string {
	t.Helper()
	e.n++
	name := fmt.Sprintf("victim%d", e.n)
	now := time.Now().UTC()
	err := e.s.meta.AddUser(context.Background(), store.User{
		Name: name, Role: string(auth.RoleReader), PasswordHash: e.cheap[mxReader], CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// newToken creates an API token of user for a row to revoke and returns
// its name.
func (e *authzEnv) newToken(t *testing.T, user string) string {
	t.Helper()
	e.n++
	name := fmt.Sprintf("revokeme%d", e.n)
	if _, _, err := e.s.Auth().CreateToken(context.Background(), user, name, 0); err != nil {
		t.Fatal(err)
	}
	return name
}

// expander fills a row's placeholders for one request by c:
//
//	{self} {other}             c's user (the reader for anonymous) and another
//	{self-password} {other-password}   their passwords, unchanged
//	{record}                   the record rows only read
//	{fresh-record}             a new quarantine record
//	{fresh-user}               a new reader
//	{self-token} {other-token} the name of a new API token of {self}, {other}
//	{new}                      an unused name
//	{policies} {policies-json} the policies in force, as YAML and JSON
//	{host}                     the service name registry tokens are for
//	{manifest} {layer}         digests of the upstream image
func (e *authzEnv) expander(t *testing.T, c mxCaller) func(string) string {
	self := c.user
	if self == "" {
		self = mxReader
	}
	other := mxAdmin
	if self == mxAdmin {
		other = mxReader
	}
	memo := map[string]string{}
	value := func(key string) string {
		switch key {
		case "self":
			return self
		case "other":
			return other
		case "self-password":
			return mxPasswords[self]
		case "other-password":
			return mxPasswords[other]
		case "record":
			return e.record
		case "fresh-record":
			return e.newRecord(t)
		case "fresh-user":
			return e.newUser(t)
		case "self-token":
			return e.newToken(t, self)
		case "other-token":
			return e.newToken(t, other)
		case "new":
			e.n++
			return fmt.Sprintf("new%d", e.n)
		case "policies":
			set, err := e.s.Admin().Policies(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b, err := yaml.Marshal(set)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		case "policies-json":
			set, err := e.s.Admin().Policies(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(set)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		case "host":
			return e.host
		case "manifest":
			return e.manifest.String()
		case "layer":
			return e.layer.String()
		}
		t.Fatalf("unknown placeholder {%s}", key)
		return ""
	}
	return func(s string) string {
		var out strings.Builder
		for {
			i := strings.Index(s, "{")
			j := strings.Index(s[max(i, 0):], "}")
			key := ""
			if i >= 0 && j > 0 {
				key = s[i+1 : i+j]
			}
			// Only names of placeholders: JSON bodies hold braces too.
			if key == "" || strings.ContainsAny(key, `"{: `) {
				if i < 0 {
					out.WriteString(s)
					return out.String()
				}
				out.WriteString(s[:i+1])
				s = s[i+1:]
				continue
			}
			if _, ok := memo[key]; !ok {
				memo[key] = value(key)
			}
			out.WriteString(s[:i])
			out.WriteString(memo[key])
			s = s[i+j+1:]
		}
	}
}

func (e *authzEnv) roundTrip(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// loginToken fetches the login form as a browser without a session and
// returns the token its cookie and hidden field carry.
func (e *authzEnv) loginToken(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/ui/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "breakwater_login_csrf" {
			return ck.Value
		}
	}
	t.Fatalf("GET /ui/login set no login token cookie (status %d)", resp.StatusCode)
	return ""
}

// do sends row r on surface s as caller c and returns the answer.
func (e *authzEnv) do(t *testing.T, s mxSurface, r mxRow, c mxCaller) (int, http.Header, string) {
	t.Helper()
	fill := e.expander(t, c)
	change := r.method != http.MethodGet && r.method != http.MethodHead
	var cookie, csrf string
	if c.session {
		cookie, csrf = e.session(t, c.user)
		switch {
		case r.noCSRF:
			csrf = ""
		case r.badCSRF:
			csrf = "not-the-session-token"
		}
	}

	var body io.Reader
	var ctype, login string
	switch {
	case r.json != "":
		body, ctype = strings.NewReader(fill(r.json)), "application/json"
	case r.form != nil || r.oauth || (s == surfUI && r.method == http.MethodPost):
		f := url.Values{}
		for k, vs := range r.form {
			for _, v := range vs {
				f.Add(k, fill(v))
			}
		}
		if r.oauth && c.basic != "" {
			f.Set("username", c.user)
			f.Set("password", c.basic)
		}
		if s == surfUI && csrf != "" {
			f.Set("csrf", csrf)
		}
		if r.loginToken {
			login = e.loginToken(t)
			f.Set("csrf", login)
		}
		body, ctype = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequest(r.method, e.url+fill(r.path), body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if login != "" {
		req.AddCookie(&http.Cookie{Name: "breakwater_login_csrf", Value: login})
	}
	if c.basic != "" && !r.oauth {
		req.SetBasicAuth(c.user, c.basic)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	}
	if s == surfAPI && change && csrf != "" {
		req.Header.Set(api.CSRFHeader, csrf)
	}
	status, h, b := e.roundTrip(t, req)
	if change {
		e.cheapen(t)
	}
	return status, h, b
}

// callers are every way of asking, by name.
func (e *authzEnv) callers() map[string]mxCaller {
	cs := map[string]mxCaller{
		"anonymous":      {name: "anonymous"},
		"wrong-password": {name: "wrong-password", class: classWrong, user: mxReader, basic: "not-the-password-1"},
		// docker login sends the name typed with the token; another
		// user's name is refused.
		"reader-token-as-admin": {name: "reader-token-as-admin", class: classWrong, user: mxAdmin, basic: e.tokens[mxReader]},
		"unknown-bearer":        {name: "unknown-bearer", class: classWrong, bearer: auth.TokenPrefix + "0123456789abcdef_" + strings.Repeat("A", 40)},
	}
	for _, u := range []struct {
		prefix, name string
		class        mxClass
	}{{"reader", mxReader, classReader}, {"admin", mxAdmin, classAdmin}} {
		for _, c := range []mxCaller{
			{name: u.prefix + "-password", basic: mxPasswords[u.name]},
			{name: u.prefix + "-apitoken", basic: e.tokens[u.name]},
			{name: u.prefix + "-bearer-apitoken", bearer: e.tokens[u.name]},
			{name: u.prefix + "-jwt", bearer: e.jwts[u.name]},
			{name: u.prefix + "-session", session: true},
		} {
			c.class, c.user = u.class, u.name
			cs[c.name] = c
		}
	}
	return cs
}

// surfaceCallers are the callers each surface is asked by, with how it
// should treat credentials it does not take: the registry takes no
// session cookie and no API token as Bearer, the token service no
// Bearer and no cookie, the API no registry token, the dashboard nothing
// but its session.
func (e *authzEnv) surfaceCallers() map[mxSurface][]mxCaller {
	cs := e.callers()
	pick := func(names ...string) []mxCaller {
		out := make([]mxCaller, len(names))
		for i, n := range names {
			c, ok := cs[strings.TrimSuffix(strings.TrimSuffix(n, "=anon"), "=wrong")]
			if !ok {
				panic("no caller " + n)
			}
			switch {
			case strings.HasSuffix(n, "=anon"):
				c = c.as(classAnon)
			case strings.HasSuffix(n, "=wrong"):
				c = c.as(classWrong)
			}
			out[i] = c
		}
		return out
	}
	return map[mxSurface][]mxCaller{
		surfRegistry: pick("anonymous", "wrong-password", "reader-token-as-admin", "unknown-bearer",
			"reader-password", "reader-apitoken", "reader-jwt", "reader-bearer-apitoken=wrong",
			"admin-password", "admin-apitoken", "admin-jwt", "admin-session=anon"),
		surfToken: pick("anonymous", "wrong-password", "reader-token-as-admin",
			"reader-password", "reader-apitoken", "admin-password", "admin-apitoken",
			"admin-jwt=anon", "admin-session=anon"),
		surfAPI: pick("anonymous", "wrong-password", "reader-token-as-admin", "unknown-bearer", "admin-jwt=wrong",
			"reader-password", "reader-apitoken", "reader-bearer-apitoken", "reader-session",
			"admin-password", "admin-apitoken", "admin-bearer-apitoken", "admin-session"),
		surfUI: pick("anonymous", "reader-session", "admin-session",
			"admin-password=anon", "admin-bearer-apitoken=anon"),
		surfService: pick("anonymous", "wrong-password", "reader-apitoken", "admin-password", "admin-session"),
	}
}

// run asks every row of one surface as each of callers and checks the
// status, and that a refusal says how to authenticate.
func (e *authzEnv) run(t *testing.T, s mxSurface, rows []mxRow, callers []mxCaller) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name(), func(t *testing.T) {
			for _, c := range callers {
				if (r.noCSRF || r.badCSRF) && !c.session {
					continue // only a session has a token to leave out
				}
				want := r.want.status(c)
				got, h, body := e.do(t, s, r, c)
				if got != want {
					if len(body) > 300 {
						body = body[:300] + "..."
					}
					t.Errorf("%s: got %d, want %d; %s", c.name, got, want, body)
					continue
				}
				checkRefusal(t, s, r, c, got, h)
			}
		})
	}
}

// checkRefusal checks what a 401 or a redirect to the login page carries.
func checkRefusal(t *testing.T, s mxSurface, r mxRow, c mxCaller, status int, h http.Header) {
	t.Helper()
	challenge := h.Get("WWW-Authenticate")
	switch {
	case status == http.StatusUnauthorized && s == surfRegistry:
		if !strings.HasPrefix(challenge, `Bearer realm="http://`) || !strings.Contains(challenge, auth.TokenPath) {
			t.Errorf("%s: 401 with challenge %q, want a Bearer challenge naming the token service", c.name, challenge)
		}
	case status == http.StatusUnauthorized && s == surfToken:
		if !strings.HasPrefix(challenge, "Basic ") {
			t.Errorf("%s: 401 with challenge %q, want Basic", c.name, challenge)
		}
	case status == http.StatusUnauthorized && s == surfAPI:
		if challenge == "" {
			t.Errorf("%s: 401 without a challenge", c.name)
		}
	case status == http.StatusSeeOther && s == surfUI && c.class != classReader && c.class != classAdmin && r.method == http.MethodGet:
		if loc := h.Get("Location"); !strings.HasPrefix(loc, "/ui/login?next=") {
			t.Errorf("%s: redirected to %q, want the login page", c.name, loc)
		}
	}
}

// csrfVariants are rows' changes asked by sessions without their CSRF
// token and with a wrong one: 403 for everyone, before anything changes.
func csrfVariants(rows []mxRow, s mxSurface) []mxRow {
	var out []mxRow
	for _, r := range rows {
		if r.method == http.MethodGet || r.method == http.MethodHead || r.loginToken || r.note != "" ||
			(s == surfAPI && r.route == "") {
			continue
		}
		for _, v := range []mxRow{{noCSRF: true}, {badCSRF: true}} {
			v.method, v.path, v.route, v.json, v.form = r.method, r.path, r.route, r.json, r.form
			v.want = wantAll(http.StatusForbidden)
			out = append(out, v)
		}
	}
	return out
}

// Bodies the rows send.
var (
	mxReason  = `{"reason":"matrix"}`
	mxNewPass = "a-new-password-1"
)

// mxForm is a form of key, value pairs.
func mxForm(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// The full matrix, anonymous pulls off (the default).
var (
	registryRows = []mxRow{
		{method: "GET", path: "/v2/", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/library/app/manifests/1", want: wants(401, 200, 200)},
		{method: "HEAD", path: "/v2/library/app/manifests/1", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/library/app/manifests/{manifest}", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/library/app/blobs/{layer}", want: wants(401, 200, 200)},
		{method: "HEAD", path: "/v2/library/app/blobs/{layer}", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/library/app/tags/list", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/library/app/referrers/{manifest}", want: wants(401, 200, 200)},
		// The registry tokens name library/app only.
		{method: "GET", path: "/v2/library/other/manifests/1", want: wants(401, 404, 404).
			except("reader-jwt", 401).except("admin-jwt", 401)},
		// The reader's token asked for the catalog and was not granted it.
		{method: "GET", path: "/v2/_catalog", want: wants(401, 403, 200).except("reader-jwt", 401)},
		{method: "GET", path: "/v1/search?q=app", want: wants(401, 200, 200)},
		{method: "GET", path: "/v2/nope", want: wants(401, 404, 404)},
		// Pushes: anonymous is asked to log in, anyone else told no.
		{method: "PUT", path: "/v2/library/app/manifests/2", want: wants(401, 405, 405)},
		{method: "DELETE", path: "/v2/library/app/manifests/{manifest}", want: wants(401, 405, 405)},
		{method: "POST", path: "/v2/library/app/blobs/uploads/", want: wants(401, 405, 405)},
		{method: "PATCH", path: "/v2/library/app/blobs/uploads/some-upload", want: wants(401, 405, 405)},
		{method: "PUT", path: "/v2/library/app/blobs/uploads/some-upload?digest={layer}", want: wants(401, 405, 405)},
		{method: "DELETE", path: "/v2/library/app/blobs/{layer}", want: wants(401, 405, 405)},
		{method: "POST", path: "/v1/search?q=app", want: wants(401, 405, 405)},
	}
	tokenRows = []mxRow{
		{method: "GET", path: "/auth/token?service={host}&scope=repository:library/app:pull", want: wants(401, 200, 200)},
		{method: "GET", path: "/auth/token", note: "(docker login)", want: wants(401, 200, 200)},
		{method: "POST", path: "/auth/token", oauth: true, want: wants(401, 200, 200),
			form: mxForm("grant_type", "password", "service", "{host}", "scope", "repository:library/app:pull")},
		{method: "POST", path: "/auth/token", note: "(refresh grant)", form: mxForm("grant_type", "refresh_token"), want: wantAll(400)},
		{method: "GET", path: "/auth/token?service=elsewhere.example", want: wantAll(400)},
		{method: "PUT", path: "/auth/token", want: wantAll(405)},
		{method: "DELETE", path: "/auth/token", want: wantAll(405)},
	}
	serviceRows = []mxRow{
		{method: "GET", path: "/healthz", want: wantAll(200)},
		{method: "GET", path: "/readyz", want: wantAll(200)},
		{method: "GET", path: "/metrics", want: wantAll(200)},
		{method: "GET", path: "/metrics/extra", want: wantAll(404)},
		{method: "GET", path: "/", want: wantAll(302)},
	}
	apiRows = []mxRow{
		{method: "GET", path: "/api/v1/openapi.json", route: "GET /api/v1/openapi.json", want: wantAll(200)},
		{method: "GET", path: "/api/v1/me", route: "GET /api/v1/me", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/quarantine", route: "GET /api/v1/quarantine", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/quarantine/{record}", route: "GET /api/v1/quarantine/{id}", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/quarantine/q-missing", want: wants(401, 404, 404)},
		{method: "DELETE", path: "/api/v1/quarantine/{fresh-record}", route: "DELETE /api/v1/quarantine/{id}", json: mxReason, want: wants(401, 403, 204)},
		{method: "POST", path: "/api/v1/quarantine/{fresh-record}/delete", route: "POST /api/v1/quarantine/{id}/delete", json: mxReason, want: wants(401, 403, 204)},
		{method: "POST", path: "/api/v1/quarantine/{fresh-record}/release", route: "POST /api/v1/quarantine/{id}/release", json: mxReason, want: wants(401, 403, 200)},
		{method: "POST", path: "/api/v1/quarantine/{fresh-record}/notes", route: "POST /api/v1/quarantine/{id}/notes", json: `{"text":"matrix"}`, want: wants(401, 403, 201)},
		{method: "GET", path: "/api/v1/audit", route: "GET /api/v1/audit", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/violations", route: "GET /api/v1/violations", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/vulnerabilities/GHSA-test-0001/images", route: "GET /api/v1/vulnerabilities/{id}/images", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/policies", route: "GET /api/v1/policies", want: wants(401, 200, 200)},
		// The policies in force, set again.
		{method: "PUT", path: "/api/v1/policies", route: "PUT /api/v1/policies", json: `{"policies":{policies-json}}`, want: wants(401, 403, 200)},
		{method: "DELETE", path: "/api/v1/policies", route: "DELETE /api/v1/policies", want: wants(401, 403, 200)},
		{method: "GET", path: "/api/v1/repositories", route: "GET /api/v1/repositories", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/upstreams", route: "GET /api/v1/upstreams", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/vulndb", route: "GET /api/v1/vulndb", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/stats", route: "GET /api/v1/stats", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/users", route: "GET /api/v1/users", want: wants(401, 403, 200)},
		{method: "POST", path: "/api/v1/users", route: "POST /api/v1/users", want: wants(401, 403, 201),
			json: `{"name":"{new}","role":"reader","password":"` + mxNewPass + `"}`},
		{method: "DELETE", path: "/api/v1/users/{fresh-user}", route: "DELETE /api/v1/users/{name}", want: wants(401, 403, 204)},
		{method: "PUT", path: "/api/v1/users/{fresh-user}/role", route: "PUT /api/v1/users/{name}/role", json: `{"role":"admin"}`, want: wants(401, 403, 200)},
		// Passwords are set to what they are, so the callers keep working.
		{method: "PUT", path: "/api/v1/users/{self}/password", route: "PUT /api/v1/users/{name}/password", json: `{"password":"{self-password}","current_password":"{self-password}"}`, want: wants(401, 204, 204)},
		// Credentials alone, a session or an API token, do not change one's
		// own password: the current one must come with the new one.
		{method: "PUT", path: "/api/v1/users/{self}/password", route: "PUT /api/v1/users/{name}/password", json: `{"password":"{self-password}"}`, want: wants(401, 400, 400)},
		{method: "PUT", path: "/api/v1/users/{self}/password", route: "PUT /api/v1/users/{name}/password", json: `{"password":"{self-password}","current_password":"wrong-password-123"}`, want: wants(401, 400, 400)},
		{method: "PUT", path: "/api/v1/users/{other}/password", route: "PUT /api/v1/users/{name}/password", json: `{"password":"{other-password}"}`, want: wants(401, 403, 204)},
		{method: "GET", path: "/api/v1/users/{self}/tokens", route: "GET /api/v1/users/{name}/tokens", want: wants(401, 200, 200)},
		{method: "GET", path: "/api/v1/users/{other}/tokens", route: "GET /api/v1/users/{name}/tokens", want: wants(401, 403, 200)},
		{method: "POST", path: "/api/v1/users/{self}/tokens", route: "POST /api/v1/users/{name}/tokens", json: `{"name":"{new}"}`, want: wants(401, 201, 201)},
		{method: "POST", path: "/api/v1/users/{other}/tokens", route: "POST /api/v1/users/{name}/tokens", json: `{"name":"{new}"}`, want: wants(401, 403, 201)},
		{method: "DELETE", path: "/api/v1/users/{self}/tokens/{self-token}", route: "DELETE /api/v1/users/{name}/tokens/{token}", want: wants(401, 204, 204)},
		{method: "DELETE", path: "/api/v1/users/{other}/tokens/{other-token}", route: "DELETE /api/v1/users/{name}/tokens/{token}", want: wants(401, 403, 204)},
		{method: "PATCH", path: "/api/v1/users", want: wantAll(405)},
		{method: "GET", path: "/api/v1/nope", want: wantAll(404)},
	}
	uiRows = []mxRow{
		{method: "GET", path: "/ui", want: wantAll(302)},
		{method: "GET", path: "/ui/", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/static/style.css", want: wantAll(200)},
		{method: "GET", path: "/ui/login", want: wants(200, 303, 303)},
		{method: "POST", path: "/ui/login", loginToken: true, want: wantAll(303),
			form: mxForm("user", "{self}", "password", "{self-password}")},
		{method: "POST", path: "/ui/login", note: "(wrong password)", loginToken: true, want: wantAll(401),
			form: mxForm("user", "{self}", "password", "not-the-password-1")},
		// The login form's token is a double-submit cookie, not a session's.
		{method: "POST", path: "/ui/login", note: "(without its form token)", want: wantAll(403),
			form: mxForm("user", "{self}", "password", "{self-password}")},
		{method: "POST", path: "/ui/logout", want: wants(401, 303, 303)},
		{method: "GET", path: "/ui/password", want: wants(303, 200, 200)},
		{method: "POST", path: "/ui/password", want: wants(401, 303, 303),
			form: mxForm("current", "{self-password}", "password", "{self-password}", "confirm", "{self-password}")},
		{method: "GET", path: "/ui/quarantine", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/quarantine/{record}", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/quarantine/q-missing", want: wants(303, 404, 404)},
		{method: "POST", path: "/ui/quarantine/{fresh-record}/notes", form: mxForm("text", "matrix"), want: wants(401, 403, 303)},
		{method: "POST", path: "/ui/quarantine/{fresh-record}/release", form: mxForm("reason", "matrix", "confirm", "yes"), want: wants(401, 403, 303)},
		{method: "POST", path: "/ui/quarantine/{fresh-record}/delete", form: mxForm("reason", "matrix", "confirm", "yes"), want: wants(401, 403, 303)},
		{method: "GET", path: "/ui/violations", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/audit", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/vulnerabilities?id=GHSA-test-0001", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/policies", want: wants(303, 200, 200)},
		{method: "POST", path: "/ui/policies", form: mxForm("policies", "{policies}"), want: wants(401, 403, 303)},
		{method: "GET", path: "/ui/users", want: wants(303, 403, 200)},
		{method: "POST", path: "/ui/users", form: mxForm("name", "{new}", "role", "reader", "password", mxNewPass), want: wants(401, 403, 303)},
		{method: "POST", path: "/ui/users/delete", form: mxForm("name", "{fresh-user}", "confirm", "yes"), want: wants(401, 403, 303)},
		{method: "POST", path: "/ui/users/password", form: mxForm("name", "{fresh-user}", "password", mxNewPass), want: wants(401, 403, 303)},
		{method: "GET", path: "/ui/tokens", want: wants(303, 200, 200)},
		{method: "GET", path: "/ui/tokens?user={other}", want: wants(303, 403, 200)},
		{method: "POST", path: "/ui/tokens", form: mxForm("name", "{new}", "ttl", "24h"), want: wants(401, 200, 200)},
		{method: "POST", path: "/ui/tokens", note: "(another user's)", form: mxForm("user", "{other}", "name", "{new}", "ttl", "24h"), want: wants(401, 403, 200)},
		{method: "POST", path: "/ui/tokens/revoke", form: mxForm("user", "{self}", "name", "{self-token}"), want: wants(401, 303, 303)},
		{method: "POST", path: "/ui/tokens/revoke", note: "(another user's)", form: mxForm("user", "{other}", "name", "{other-token}"), want: wants(401, 403, 303)},
		{method: "GET", path: "/ui/nope", want: wants(303, 404, 404)},
	}
)

// TestAuthzMatrix asks every route as every kind of caller with
// anonymous pulls off.
func TestAuthzMatrix(t *testing.T) {
	t.Parallel()
	e := newAuthzEnv(t, false)
	cs := e.surfaceCallers()
	apiCoverage(t, e, apiRows)
	t.Run("registry", func(t *testing.T) { e.run(t, surfRegistry, registryRows, cs[surfRegistry]) })
	t.Run("token", func(t *testing.T) { e.run(t, surfToken, tokenRows, cs[surfToken]) })
	t.Run("service", func(t *testing.T) { e.run(t, surfService, serviceRows, cs[surfService]) })
	t.Run("api", func(t *testing.T) { e.run(t, surfAPI, apiRows, cs[surfAPI]) })
	t.Run("api-csrf", func(t *testing.T) { e.run(t, surfAPI, csrfVariants(apiRows, surfAPI), cs[surfAPI]) })
	t.Run("ui", func(t *testing.T) { e.run(t, surfUI, uiRows, cs[surfUI]) })
	t.Run("ui-csrf", func(t *testing.T) { e.run(t, surfUI, csrfVariants(uiRows, surfUI), cs[surfUI]) })
}

// apiCoverage fails for every operation the served OpenAPI document
// lists that no row covers, so a new route cannot go untested, and for
// every row naming an operation the document does not list.
func apiCoverage(t *testing.T, e *authzEnv, rows []mxRow) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/api/v1/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := e.roundTrip(t, req)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); status != http.StatusOK || err != nil || len(doc.Paths) == 0 {
		t.Fatalf("openapi.json: %d %v", status, err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	covered := map[string]bool{}
	for _, r := range rows {
		if r.route == "" {
			continue
		}
		covered[r.route] = true
		if !documented[r.route] {
			t.Errorf("row %s names %s, which openapi.json does not list", r.name(), r.route)
		}
	}
	var missing []string
	for op := range documented {
		if !covered[op] {
			missing = append(missing, op)
		}
	}
	slices.Sort(missing)
	for _, op := range missing {
		t.Errorf("openapi.json lists %s, which the authorization matrix does not cover: add a row to apiRows", op)
	}
}

// TestAuthzMatrixAnonymousPull asks a smaller set with auth.anonymous_pull
// on: anonymous may pull and list, but not push, and gets nothing more
// of the API or the dashboard than with it off.
func TestAuthzMatrixAnonymousPull(t *testing.T) {
	t.Parallel()
	e := newAuthzEnv(t, true)
	cs := e.surfaceCallers()
	pull := wantAll(200).wrongIs(401)
	t.Run("registry", func(t *testing.T) {
		e.run(t, surfRegistry, []mxRow{
			{method: "GET", path: "/v2/", want: pull},
			{method: "GET", path: "/v2/library/app/manifests/1", want: pull},
			{method: "HEAD", path: "/v2/library/app/manifests/1", want: pull},
			{method: "GET", path: "/v2/library/app/blobs/{layer}", want: pull},
			{method: "GET", path: "/v2/library/app/tags/list", want: pull},
			{method: "GET", path: "/v2/_catalog", want: pull},
			{method: "GET", path: "/v1/search?q=app", want: pull},
			// Anyone may pull anything, so a token's scope is not needed.
			{method: "GET", path: "/v2/library/other/manifests/1", want: wantAll(404).wrongIs(401)},
			{method: "PUT", path: "/v2/library/app/manifests/2", want: wants(401, 405, 405)},
			{method: "POST", path: "/v2/library/app/blobs/uploads/", want: wants(401, 405, 405)},
			{method: "DELETE", path: "/v2/library/app/manifests/{manifest}", want: wants(401, 405, 405)},
		}, cs[surfRegistry])
	})
	t.Run("token", func(t *testing.T) {
		e.run(t, surfToken, []mxRow{
			{method: "GET", path: "/auth/token?service={host}&scope=repository:library/app:pull", want: pull},
			{method: "POST", path: "/auth/token", oauth: true, want: pull,
				form: mxForm("grant_type", "password", "service", "{host}", "scope", "repository:library/app:pull")},
		}, cs[surfToken])
	})
	t.Run("service", func(t *testing.T) {
		e.run(t, surfService, []mxRow{
			{method: "GET", path: "/healthz", want: wantAll(200)},
			{method: "GET", path: "/readyz", want: wantAll(200)},
			{method: "GET", path: "/metrics", want: wantAll(200)},
		}, cs[surfService])
	})
	t.Run("api", func(t *testing.T) {
		e.run(t, surfAPI, []mxRow{
			{method: "GET", path: "/api/v1/openapi.json", want: wantAll(200)},
			{method: "GET", path: "/api/v1/me", want: wants(401, 200, 200)},
			{method: "GET", path: "/api/v1/quarantine", want: wants(401, 200, 200)},
			{method: "GET", path: "/api/v1/users", want: wants(401, 403, 200)},
			{method: "POST", path: "/api/v1/quarantine/{fresh-record}/release", json: mxReason, want: wants(401, 403, 200)},
			{method: "DELETE", path: "/api/v1/users/{fresh-user}", want: wants(401, 403, 204)},
			{method: "POST", path: "/api/v1/users/{other}/tokens", json: `{"name":"{new}"}`, want: wants(401, 403, 201)},
		}, cs[surfAPI])
	})
	t.Run("ui", func(t *testing.T) {
		e.run(t, surfUI, []mxRow{
			{method: "GET", path: "/ui/", want: wants(303, 200, 200)},
			{method: "GET", path: "/ui/quarantine", want: wants(303, 200, 200)},
			{method: "GET", path: "/ui/users", want: wants(303, 403, 200)},
			{method: "POST", path: "/ui/quarantine/{fresh-record}/release", form: mxForm("reason", "matrix", "confirm", "yes"), want: wants(401, 403, 303)},
			{method: "POST", path: "/ui/policies", form: mxForm("policies", "{policies}"), want: wants(401, 403, 303)},
			{method: "POST", path: "/ui/users/delete", form: mxForm("name", "{fresh-user}", "confirm", "yes"), want: wants(401, 403, 303)},
		}, cs[surfUI])
	})
}

// TestServeBootstrap follows serve on an empty data directory: Build,
// then Bootstrap. It must leave the first admin's password in a file only
// its owner reads, and that password must sign in as an admin who has to
// change it; the audit log records the new admin.
func TestServeBootstrap(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t, policy.ModeOff)
	c.Data = filepath.Join(t.TempDir(), "data") // not there yet
	s, err := Build(c, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	path, err := s.Bootstrap(ctx)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	entries, err := s.meta.Audit(ctx, store.AuditFilter{Action: "user-added"}, 0, 10)
	if err != nil || len(entries) != 1 || entries[0].Actor != "breakwater" || entries[0].Details != "user=admin role=admin" {
		t.Errorf("audit entries of the first admin: %+v, %v; want one user-added by breakwater", entries, err)
	}
	if mxWant := filepath.Join(c.Data, auth.PasswordFile); path != mxWant {
		t.Fatalf("Bootstrap wrote %q, want %q", path, mxWant)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("%s has mode %v, want a regular file with 0600", path, fi.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSuffix(string(b), "\n")
	if len(pw) < 20 || strings.ContainsAny(pw, "\r\n ") {
		t.Fatalf("the password file holds %d bytes, not one long password", len(b))
	}

	p, err := s.Auth().Authenticate(ctx, auth.BootstrapUser, pw)
	if err != nil || p.User != auth.BootstrapUser || !p.IsAdmin() {
		t.Fatalf("the first password authenticates as %+v, %v; want admin %s", p, err, auth.BootstrapUser)
	}
	users, err := s.Auth().Users(ctx)
	if err != nil || len(users) != 1 || !users[0].MustChangePassword {
		t.Fatalf("users after bootstrap: %+v, %v; want the one admin, who must change the password", users, err)
	}

	// The dashboard sends the admin to the password form first.
	cookie, err := s.Auth().Login(ctx, auth.BootstrapUser, pw, "127.0.0.1")
	if err != nil {
		t.Fatalf("login with the first password: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/ui/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	client := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/ui/password" {
		t.Errorf("GET /ui/ as the first admin: %d to %q, want 303 to /ui/password", resp.StatusCode, loc)
	}

	// A second start finds a user and leaves the file alone.
	if again, err := s.Bootstrap(ctx); again != "" || err != nil {
		t.Errorf("second Bootstrap: %q, %v; want nothing done", again, err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("the second Bootstrap changed the password file")
	}
}

// TestServeBootstrapReaders follows serve on a data directory where the
// CLI added users before the first start: readers alone still get the
// first admin; a reader named admin is left alone and serve goes on.
func TestServeBootstrapReaders(t *testing.T) {
	for _, tt := range []struct {
		reader  string
		created bool
	}{{"bob", true}, {auth.BootstrapUser, false}} {
		t.Run(tt.reader, func(t *testing.T) {
			ctx := context.Background()
			c := testConfig(t, policy.ModeOff)
			c.Data = filepath.Join(t.TempDir(), "data")
			s, err := Build(c, nil)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.Auth().AddUser(ctx, tt.reader, auth.RoleReader, "a reader password"); err != nil {
				t.Fatal(err)
			}
			path, err := s.Bootstrap(ctx)
			if err != nil || (path != "") != tt.created {
				t.Fatalf("Bootstrap = %q, %v; want a first admin: %v", path, err, tt.created)
			}
			p, err := s.Auth().Authenticate(ctx, tt.reader, "a reader password")
			if err != nil || p.IsAdmin() {
				t.Errorf("%s after Bootstrap: %+v, %v; want the reader, untouched", tt.reader, p, err)
			}
			entries, err := s.meta.Audit(ctx, store.AuditFilter{Action: "user-added"}, 0, 10)
			if err != nil || (len(entries) == 1) != tt.created {
				t.Errorf("audit entries: %+v, %v; want one for the first admin: %v", entries, err, tt.created)
			}
			if !tt.created {
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if p, err := s.Auth().Authenticate(ctx, auth.BootstrapUser, strings.TrimSuffix(string(b), "\n")); err != nil || !p.IsAdmin() {
				t.Errorf("the first password authenticates as %+v, %v; want an admin", p, err)
			}
		})
	}
}
