//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// Passwords of the users the login tests create (at least 12 bytes).
const (
	readerPassword = "reader-e2e-password"
	otherPassword  = "other-e2e-password"
)

// guarded is a breakwater with anonymous pulls off, as it runs by
// default, and the password serve wrote for its first admin.
type guarded struct {
	bw    *harness.Breakwater
	admin string
}

// startGuarded starts breakwater with opts and access control on, checks
// the first admin's password file and creates the reader "reader" through
// the admin API.
func startGuarded(t *testing.T, opts harness.BreakwaterOptions) *guarded {
	t.Helper()
	opts.AccessControl = true
	g := &guarded{bw: harness.StartBreakwater(t, opts)}
	path := filepath.Join(g.bw.DataDir, "admin.password")
	g.admin = waitFile(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v (%v), want 0600", path, fi.Mode().Perm(), err)
	}
	g.addUser(t, "reader", "reader", readerPassword)
	return g
}

// noFeeds fails the test if bw logged that it loads vulnerability data
// from feeds: a test server must reach nothing past 127.0.0.1.
func noFeeds(t *testing.T, bw *harness.Breakwater) {
	t.Cleanup(func() {
		log := bw.Process().Log()
		for _, m := range []string{"loading vulnerability data", "refreshing vulnerability data"} {
			if strings.Contains(log, m) {
				t.Errorf("breakwater logged %q: a test server must fetch no feeds", m)
			}
		}
	})
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

var httpClient = &http.Client{Timeout: time.Minute}

// do sends one request, body (if not nil) as JSON, after edit (if not
// nil) has added credentials or changed the Host header.
func do(t *testing.T, method, u string, body any, edit func(*http.Request)) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if edit != nil {
		edit(req)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, u, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func basic(user, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, secret) }
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// api calls the admin API as user and fails the test unless the status
// is want; it returns the body.
func (g *guarded) api(t *testing.T, want int, method, path, user, secret string, body any) []byte {
	t.Helper()
	r := do(t, method, g.bw.URL+path, body, basic(user, secret))
	if r.status != want {
		t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, user, r.status, want, r.body)
	}
	return r.body
}

// addUser creates a user as the first admin.
func (g *guarded) addUser(t *testing.T, name, role, password string) {
	t.Helper()
	g.api(t, http.StatusCreated, "POST", "/api/v1/users", "admin", g.admin,
		map[string]string{"name": name, "role": role, "password": password})
}

// createToken creates an API token named name for the reader, with the
// reader's own password, and returns its secret.
func (g *guarded) createToken(t *testing.T, name string) string {
	t.Helper()
	b := g.api(t, http.StatusCreated, "POST", "/api/v1/users/reader/tokens", "reader", readerPassword,
		map[string]any{"name": name})
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &out); err != nil || !strings.HasPrefix(out.Secret, "bw_") {
		t.Fatalf("created token: secret %q (%v), want bw_...: %s", out.Secret, err, b)
	}
	return out.Secret
}

// registryToken asks the token service for a bearer token pulling repo,
// as docker does, and returns it.
func (g *guarded) registryToken(t *testing.T, user, secret, repo string) string {
	t.Helper()
	q := url.Values{"service": {g.bw.Host}, "scope": {"repository:" + repo + ":pull"}}
	r := do(t, "GET", g.bw.URL+"/auth/token?"+q.Encode(), nil, basic(user, secret))
	var out struct {
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil || out.Token == "" {
		t.Fatalf("token for %s: status %d: %s", user, r.status, r.body)
	}
	return out.Token
}

// mustFail fails the test unless err is a failed command whose output
// holds every one of want.
func mustFail(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s succeeded, want it refused", what)
	}
	t.Logf("%s refused as expected: %v", what, err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the error does not say %q:\n%v", what, w, err)
		}
	}
}

// TestLoginDockerPassword: an anonymous docker pull from a breakwater
// with access control is refused as unauthenticated; after `docker login`
// with a reader's password the same pull yields the upstream's digest, and
// after `docker logout` it is refused again.
func TestLoginDockerPassword(t *testing.T) {
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthBasic})
	want := up.Push(t, "library/app", "1", harness.NewImage(t, harness.ImageSpec{})).String()
	g := startGuarded(t, harness.BreakwaterOptions{Upstream: up.URL, Username: up.Username, Password: up.Password})
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := g.bw.Ref("library/app", "1")

	mustFail(t, "anonymous docker pull", d.PullErr(ref, ""), "unauthorized", "authentication required")

	if out := d.Login(t, g.bw.Host, "reader", readerPassword); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("docker login printed no success:\n%s", out)
	}
	d.Pull(t, ref, "")
	if got := repoDigest(t, d.RepoDigests(t, ref), g.bw.Host+"/library/app"); got != want {
		t.Errorf("docker pulled %s, want the upstream's %s", got, want)
	}

	d.Logout(t, g.bw.Host)
	d.Remove(t, ref)
	mustFail(t, "docker pull after logout", d.PullErr(ref, ""), "unauthorized")
}

// TestLoginDockerAPIToken logs docker in with an API token as the
// password (and skopeo with --creds): pulls succeed. Once the token is
// revoked through the API, a bearer token issued for it before is refused
// at the next request although it has an hour to live, docker's next pull
// fails and so does skopeo's, while the reader's password still works.
func TestLoginDockerAPIToken(t *testing.T) {
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthBasic})
	want1 := up.Push(t, "library/app", "1", harness.NewImage(t, harness.ImageSpec{})).String()
	want2 := up.Push(t, "library/app", "2", harness.NewImage(t, harness.ImageSpec{})).String()
	g := startGuarded(t, harness.BreakwaterOptions{
		Upstream: up.URL, Username: up.Username, Password: up.Password,
		Env: []string{"BREAKWATER_AUTH_TOKEN_TTL=1h"},
	})
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	skopeo := harness.LookPath(t, "skopeo")
	ref1, ref2 := g.bw.Ref("library/app", "1"), g.bw.Ref("library/app", "2")
	secret := g.createToken(t, "ci")

	d.Login(t, g.bw.Host, "reader", secret)
	d.Pull(t, ref1, "")
	if got := repoDigest(t, d.RepoDigests(t, ref1), g.bw.Host+"/library/app"); got != want1 {
		t.Errorf("docker pulled %s, want the upstream's %s", got, want1)
	}
	inspect := func(creds string) (string, error) {
		return harness.RunErr(harness.PullTimeout, skopeo, "inspect", "--tls-verify=false",
			"--creds", creds, "--format", "{{.Digest}}", "docker://"+ref2)
	}
	if got, err := inspect("reader:" + secret); err != nil || got != want2 {
		t.Errorf("skopeo inspect with the API token: %q, %v; want %s", got, err, want2)
	}

	// A bearer token issued for the API token works until the API token
	// is revoked, and not a request longer.
	manifest := g.bw.URL + "/v2/library/app/manifests/1"
	accept := func(r *http.Request) {
		r.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	}
	tok := g.registryToken(t, "reader", secret, "library/app")
	withToken := func(r *http.Request) { accept(r); bearer(tok)(r) }
	if r := do(t, "GET", manifest, nil, withToken); r.status != http.StatusOK {
		t.Fatalf("manifest with a bearer token before revocation: status %d: %s", r.status, r.body)
	}
	g.api(t, http.StatusNoContent, "DELETE", "/api/v1/users/reader/tokens/ci", "admin", g.admin, nil)
	r := do(t, "GET", manifest, nil, withToken)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("manifest with a bearer token of a revoked API token: status %d, want 401: %s", r.status, r.body)
	}
	if c := r.header.Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_token"`) {
		t.Errorf("challenge after revocation = %q, want error=\"invalid_token\"", c)
	}

	mustFail(t, "docker pull with a revoked API token", d.PullErr(ref2, ""), "unauthorized", "incorrect username, password or token")
	_, err := inspect("reader:" + secret)
	mustFail(t, "skopeo inspect with a revoked API token", err, "unauthorized")

	d.Login(t, g.bw.Host, "reader", readerPassword)
	d.Pull(t, ref2, "")
	if got := repoDigest(t, d.RepoDigests(t, ref2), g.bw.Host+"/library/app"); got != want2 {
		t.Errorf("docker pulled %s, want the upstream's %s", got, want2)
	}
	if got, err := inspect("reader:" + readerPassword); err != nil || got != want2 {
		t.Errorf("skopeo inspect with the password: %q, %v; want %s", got, err, want2)
	}
}

// TestLoginWrongPassword: docker login with a wrong password fails and
// says why; after auth.login_limit failures of one client for one user the
// token service answers 429 with Retry-After, even to the right password,
// and docker login says so, while another user logs in from the same
// client.
func TestLoginWrongPassword(t *testing.T) {
	const limit = 3
	up := harness.StartUpstream(t, harness.UpstreamOptions{})
	g := startGuarded(t, harness.BreakwaterOptions{
		Upstream: up.URL,
		Env:      []string{"BREAKWATER_AUTH_LOGIN_LIMIT=" + strconv.Itoa(limit)},
	})
	g.addUser(t, "other", "reader", otherPassword)
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	_, err := d.LoginErr(g.bw.Host, "reader", "not-the-password")
	mustFail(t, "docker login with a wrong password", err, "incorrect username, password or token")
	// A success clears the failures: the count below starts at zero.
	d.Login(t, g.bw.Host, "reader", readerPassword)

	q := url.Values{"service": {g.bw.Host}, "scope": {"repository:library/app:pull"}}
	tokenURL := g.bw.URL + "/auth/token?" + q.Encode()
	for i := range limit {
		if r := do(t, "GET", tokenURL, nil, basic("reader", "not-the-password")); r.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d of %d: status %d, want 401: %s", i+1, limit, r.status, r.body)
		}
	}
	for _, pw := range []string{"not-the-password", readerPassword} {
		r := do(t, "GET", tokenURL, nil, basic("reader", pw))
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("login past the limit: status %d, want 429: %s", r.status, r.body)
		}
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After = %q, want 1 to 60 seconds", r.header.Get("Retry-After"))
		}
	}
	_, err = d.LoginErr(g.bw.Host, "reader", readerPassword)
	mustFail(t, "docker login past the limit", err, "too many failed logins")

	d.Login(t, g.bw.Host, "other", otherPassword)
}

// TestLoginRealm: the challenge names breakwater's own token service,
// taken from auth.public_url when set and from the request's Host
// otherwise, and never the upstream's, although the upstream challenges
// with a token realm of its own. docker logs in and pulls through it.
func TestLoginRealm(t *testing.T) {
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthToken})
	want := up.Push(t, "library/app", "1", harness.NewImage(t, harness.ImageSpec{})).String()
	upChallenge := do(t, "GET", up.URL+"/v2/", nil, nil).header.Get("WWW-Authenticate")
	if !strings.Contains(upChallenge, `realm="`+up.Token.URL+`"`) {
		t.Fatalf("upstream challenge %q does not name its token server %s", upChallenge, up.Token.URL)
	}

	// public_url needs breakwater's port, known once it runs: the first
	// start has an empty configuration, the second the public_url.
	config := filepath.Join(t.TempDir(), "breakwater.yaml")
	if err := os.WriteFile(config, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGuarded(t, harness.BreakwaterOptions{
		Upstream: up.URL, Username: up.Username, Password: up.Password, Config: config,
	})
	port := strings.TrimPrefix(g.bw.Host, "127.0.0.1:")
	viaLocalhost := func(r *http.Request) { r.Host = "localhost:" + port }

	// challenge GETs path anonymously (with edit) and returns the
	// challenge, failing unless it is a 401 free of the upstream's realm.
	challenge := func(path string, edit func(*http.Request)) string {
		t.Helper()
		r := do(t, "GET", g.bw.URL+path, nil, edit)
		c := r.header.Get("WWW-Authenticate")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("GET %s: status %d, want 401: %s", path, r.status, r.body)
		}
		for _, bad := range []string{up.Token.URL, up.Host, "harness-upstream"} {
			if strings.Contains(c, bad) {
				t.Errorf("GET %s: challenge %q names the upstream (%s)", path, c, bad)
			}
		}
		return c
	}

	// Without public_url the realm follows the Host the client used.
	if c := challenge("/v2/", viaLocalhost); !strings.HasPrefix(c, `Bearer realm="http://localhost:`+port+`/auth/token",service="localhost:`+port+`"`) {
		t.Errorf("challenge through localhost without public_url = %q", c)
	}

	g.bw.Stop(t)
	cfg := "auth:\n  public_url: " + g.bw.URL + "\n"
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	g.bw.Start(t)

	realm := `Bearer realm="` + g.bw.URL + `/auth/token",service="` + g.bw.Host + `"`
	for _, c := range []struct {
		path string
		edit func(*http.Request)
	}{
		{"/v2/", nil},
		{"/v2/", viaLocalhost},
		{"/v2/library/app/manifests/1", nil},
		{"/v2/library/app/manifests/1", bearer("not-a-token")},
	} {
		if got := challenge(c.path, c.edit); !strings.HasPrefix(got, realm) {
			t.Errorf("GET %s: challenge %q, want it to start with %s", c.path, got, realm)
		}
	}

	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := g.bw.Ref("library/app", "1")
	mustFail(t, "anonymous docker pull", d.PullErr(ref, ""), "unauthorized")
	tokenRequests := up.Token.Requests()
	d.Login(t, g.bw.Host, "reader", readerPassword)
	d.Pull(t, ref, "")
	if got := repoDigest(t, d.RepoDigests(t, ref), g.bw.Host+"/library/app"); got != want {
		t.Errorf("docker pulled %s, want the upstream's %s", got, want)
	}
	// breakwater, holding the upstream's credentials, went to the
	// upstream's token server for the pull.
	if up.Token.Requests() == tokenRequests {
		t.Error("the upstream's token server saw no request: breakwater did not authenticate upstream")
	}
}

// auditJSON is an entry of GET /api/v1/audit.
type auditJSON struct {
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Repo   string `json:"repository"`
	Digest string `json:"digest"`
	Client string `json:"client"`
	Result string `json:"result"`
}

// TestLoginPullLog: with the firewall on, the reader's docker pulls are in
// the audit log under the reader's name, with docker's address and the
// verdict: a clean image served ("allow") and a malicious one withheld
// ("quarantine"). The first admin, who pulled nothing, has no pull there.
func TestLoginPullLog(t *testing.T) {
	e := newFWEnv(t, "")
	clean := e.up.Push(t, "library/clean", "1", harness.NewImage(t, harness.ImageSpec{})).String()
	evil := e.up.Push(t, "library/evil", "1", maliciousNPM(t)).String()
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	g := startGuarded(t, harness.BreakwaterOptions{
		DataDir: e.data, Config: e.config, Env: e.env(), Firewall: "quarantine",
	})
	noFeeds(t, g.bw)
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	d.Login(t, g.bw.Host, "reader", readerPassword)
	ref := g.bw.Ref("library/clean", "1")
	d.Pull(t, ref, "")
	if got := repoDigest(t, d.RepoDigests(t, ref), g.bw.Host+"/library/clean"); got != clean {
		t.Errorf("docker pulled %s, want the upstream's %s", got, clean)
	}
	mustFail(t, "docker pull of a malicious image", d.PullErr(g.bw.Ref("library/evil", "1"), ""))

	// The pull log writes in batches about every second.
	want := map[string]auditJSON{
		clean: {Actor: "reader", Action: "pull", Repo: "docker.io/library/clean", Digest: clean, Client: "127.0.0.1", Result: "allow"},
		evil:  {Actor: "reader", Action: "pull-denied", Repo: "docker.io/library/evil", Digest: evil, Client: "127.0.0.1", Result: "quarantine"},
	}
	var got map[string]auditJSON
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = map[string]auditJSON{}
		b := g.api(t, http.StatusOK, "GET", "/api/v1/audit?user=reader", "admin", g.admin, nil)
		var page struct {
			Items []auditJSON `json:"items"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("parse audit page: %v\n%s", err, b)
		}
		for _, it := range page.Items {
			if it.Actor != "reader" {
				t.Fatalf("audit?user=reader lists an entry of %q: %+v", it.Actor, it)
			}
			if it.Action == "pull" || it.Action == "pull-denied" {
				got[it.Digest] = it
			}
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for d, w := range want {
		if got[d] != w {
			t.Errorf("audit entry of %s = %+v, want %+v", d, got[d], w)
		}
	}
	for d := range got {
		if _, ok := want[d]; !ok {
			t.Errorf("audit lists an unexpected pull by the reader: %+v", got[d])
		}
	}

	b := g.api(t, http.StatusOK, "GET", "/api/v1/audit?user=admin&action=pull", "admin", g.admin, nil)
	if strings.Contains(string(b), `"digest"`) {
		t.Errorf("the admin pulled nothing, yet the audit log lists pulls by admin: %s", b)
	}
}
