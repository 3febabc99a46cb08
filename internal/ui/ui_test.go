package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/inventory"
	"breakwater/internal/policy"
	"breakwater/internal/server"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
)

// The test users; the bootstrap admin "admin" keeps its first password.
const (
	adminUser, adminPass   = "alice", "alice-password-123"
	readerUser, readerPass = "bob", "bob-password-123"
	// hostile is text an attacker controls (a feed's summary, an admin's
	// note); it must come out escaped.
	hostile = `<script>alert("x")</script>`
)

var imageDigest = digest.FromString("quarantined image")

// env is a built breakwater on a fresh data directory behind an
// httptest server, with users and a quarantine record.
type env struct {
	url      string
	data     string
	recordID string
	// firstPassword is the bootstrap admin's password.
	firstPassword string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	c := config.Default()
	c.Data = t.TempDir()
	c.Firewall.Firewall = c.Firewall.WithMode(policy.ModeQuarantine)
	c.VulnDB.Feeds = nil
	c.Auth.LoginLimit = 3
	srv, err := server.Build(c, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})

	// A second handle on the same meta.db, as the CLI would have: what it
	// writes the server reads at once.
	meta, err := sqlite.Open(filepath.Join(c.Data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	a, err := auth.New(auth.Options{Store: meta})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{url: ts.URL, data: c.Data}
	if _, err := a.Bootstrap(ctx, c.Data); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	pw, err := os.ReadFile(filepath.Join(c.Data, auth.PasswordFile))
	if err != nil {
		t.Fatalf("read first password: %v", err)
	}
	e.firstPassword = strings.TrimSpace(string(pw))
	if err := a.AddUser(ctx, adminUser, auth.RoleAdmin, adminPass); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, readerUser, auth.RoleReader, readerPass); err != nil {
		t.Fatal(err)
	}

	ev, err := json.Marshal(firewall.Evidence{
		Verdict: policy.Verdict{Result: policy.ResultQuarantine, Reason: "malware"},
		Findings: []inventory.Finding{
			{ID: "MAL-2025-0001", Summary: hostile, Malware: true,
				Component: inventory.Component{Ecosystem: "npm", Name: "debug", Version: "4.4.2"}},
			{ID: "CVE-2024-0002", Summary: "a bug", Score: 9.8, Scored: true, Severity: "critical", FixedVersion: "1.2.4",
				Component: inventory.Component{Ecosystem: "Debian:12", Name: "libfoo", Version: "1.2.3"}},
			{ID: "CVE-2024-0003", Summary: "a small bug", Score: 3.1, Scored: true, Severity: "low",
				Component: inventory.Component{Ecosystem: "Debian:12", Name: "libbar", Version: "0.1"}},
		},
		Components: 3,
		Platform:   "linux/amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e.recordID, err = meta.PutQuarantine(ctx, store.Quarantine{
		ID: "q0000000000000001", Severity: "critical", MaxScore: 9.8, Upstream: "docker.io", Repo: "docker.io/library/evil", Tag: "1", Digest: imageDigest,
		Platform: "linux/amd64", RequestedAt: now.Add(-time.Hour), RequestedBy: "127.0.0.1",
		Policies: []string{"malware"}, Evidence: ev,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.AddNote(ctx, e.recordID, store.Note{At: now, By: adminUser, Text: "looked at it: " + hostile}); err != nil {
		t.Fatal(err)
	}
	if err := meta.AppendAudit(ctx, store.AuditEntry{At: now, Actor: readerUser, Action: "pull", Repo: "docker.io/library/evil",
		Digest: imageDigest, Client: "127.0.0.1", Result: "quarantine"}); err != nil {
		t.Fatal(err)
	}
	err = meta.AddStats(ctx, []store.StatsDelta{
		{Hour: now.Add(-2 * time.Hour), Upstream: "docker.io", StatsCounts: store.StatsCounts{
			Pulls: 7, CacheHits: 5, CacheMisses: 2, BytesFromCache: 5 << 20, BytesFromUpstream: 1 << 20, Violations: 1, Quarantines: 1}},
		{Hour: now, Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 3, CacheHits: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is a client with a cookie jar that does not follow redirects,
// so tests see them.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, e: e, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.e.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	all, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(all)}
	if m := csrfField.FindStringSubmatch(a.body); m != nil {
		b.csrf = m[1]
	}
	return a
}

func (b *browser) get(path string) answer { b.t.Helper(); return b.do(http.MethodGet, path, nil) }

// post sends form with the last CSRF token seen, unless form sets one.
func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	return b.do(http.MethodPost, path, form)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in and fails the test unless it is sent on to /ui/.
func (b *browser) login(user, pass string) {
	b.t.Helper()
	b.get("/ui/login")
	a := b.post("/ui/login", url.Values{"user": {user}, "password": {pass}})
	if a.status != http.StatusSeeOther {
		b.t.Fatalf("login %s = %d, want 303\n%s", user, a.status, a.body)
	}
	b.get(a.header.Get("Location")) // picks up the session's CSRF token
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pages := []struct {
		path       string
		want       []string // in the body for everyone
		adminOnly  []string // in the body for admins only
		readerCode int      // the status a reader gets (0: 200)
	}{
		{"/ui/", []string{"Pulls per hour", "<svg", "polyline", "Vulnerability data", "last 7 days"}, nil, 0},
		{"/ui/?range=7d", []string{"Pulls per hour", "<svg"}, nil, 0},
		{"/ui/quarantine", []string{"docker.io/library/evil", imageDigest.String()[:19], "malware"}, nil, 0},
		{"/ui/quarantine?sort=score&severity=high&since=7d", []string{"docker.io/library/evil"}, nil, 0},
		{"/ui/quarantine/" + e.recordID, []string{"MAL-2025-0001", "CVE-2024-0002", "libfoo", "1.2.4", "looked at it", aria("descending")},
			[]string{`id="release-form"`, `id="delete-form"`, `id="note-form"`}, 0},
		{"/ui/quarantine/" + e.recordID + "?sort=id", []string{"CVE-2024-0003", aria("ascending")}, nil, 0},
		{"/ui/violations", []string{"Violations"}, nil, 0},
		{"/ui/audit", []string{"pull", readerUser, "docker.io/library/evil"}, nil, 0},
		{"/ui/audit?user=" + readerUser + "&since=24h", []string{"docker.io/library/evil"}, nil, 0},
		{"/ui/vulnerabilities", []string{"Find images"}, nil, 0},
		{"/ui/vulnerabilities?id=CVE-2024-0002", []string{"Images carrying CVE-2024-0002"}, nil, 0},
		{"/ui/policies", []string{"Policies"}, []string{`id="policies-form"`}, 0},
		{"/ui/tokens", []string{"New token"}, nil, 0},
		{"/ui/users", []string{adminUser, readerUser, "Add a user"}, nil, http.StatusForbidden},
		{"/ui/password", []string{"New password"}, nil, 0},
	}
	for _, who := range []struct{ user, pass string }{{adminUser, adminPass}, {readerUser, readerPass}} {
		b := e.browser(t)
		b.login(who.user, who.pass)
		isAdmin := who.user == adminUser
		for _, p := range pages {
			t.Run(who.user+p.path, func(t *testing.T) {
				a := b.get(p.path)
				want := http.StatusOK
				if !isAdmin && p.readerCode != 0 {
					want = p.readerCode
				}
				if a.status != want {
					t.Fatalf("GET %s = %d, want %d\n%s", p.path, a.status, want, a.body)
				}
				checkHeaders(t, a)
				checkCSPCompliant(t, a.body)
				if want != http.StatusOK {
					return
				}
				for _, s := range p.want {
					if !strings.Contains(a.body, s) {
						t.Errorf("GET %s does not show %q", p.path, s)
					}
				}
				for _, s := range p.adminOnly {
					if got := strings.Contains(a.body, s); got != isAdmin {
						t.Errorf("GET %s as %s: %q shown = %v, want %v", p.path, who.user, s, got, isAdmin)
					}
				}
			})
		}
	}
}

func aria(v string) string { return `aria-sort="` + v + `"` }

func checkHeaders(t *testing.T, a answer) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := a.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|<script>`)
	scriptTag    = regexp.MustCompile(`<script[^>]*>`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=|<style|\son[a-z]+\s*=|javascript:`)
	foreignURL   = regexp.MustCompile(`(?i)(src|href)="(https?:)?//`)
)

// checkCSPCompliant fails on what the CSP would block: inline script or
// style, event handler attributes, and anything from another host.
func checkCSPCompliant(t *testing.T, body string) {
	t.Helper()
	if m := inlineScript.FindString(body); m != "" {
		t.Errorf("page has inline script %q", m)
	}
	for _, tag := range scriptTag.FindAllString(body, -1) {
		if !strings.Contains(tag, `src="/ui/static/`) {
			t.Errorf("script not from /ui/static: %s", tag)
		}
	}
	if m := styleAttr.FindString(body); m != "" {
		t.Errorf("page has inline style or handler %q", m)
	}
	if m := foreignURL.FindString(body); m != "" {
		t.Errorf("page loads from another host: %q", m)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminUser, adminPass)
	a := b.post("/ui/quarantine/"+e.recordID+"/notes", url.Values{"text": {"second " + hostile}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("add note = %d\n%s", a.status, a.body)
	}
	a = b.get("/ui/quarantine/" + e.recordID)
	if strings.Contains(a.body, hostile) {
		t.Error("the detail page shows a note or summary unescaped")
	}
	if got := strings.Count(a.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"); got < 3 {
		t.Errorf("escaped hostile text shown %d times, want the summary and both notes (3)", got)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.browser(t)
	admin.login(adminUser, adminPass)
	admin.get("/ui/quarantine/" + e.recordID)
	reader := e.browser(t)
	reader.login(readerUser, readerPass)
	reader.get("/ui/quarantine/" + e.recordID)

	note := "/ui/quarantine/" + e.recordID + "/notes"
	tests := []struct {
		name string
		b    *browser
		path string
		form url.Values
		want int
	}{
		{"no token", admin, note, url.Values{"csrf": {""}, "text": {"x"}}, http.StatusForbidden},
		{"wrong token", admin, note, url.Values{"csrf": {"forged"}, "text": {"x"}}, http.StatusForbidden},
		{"another session's token", admin, note, url.Values{"csrf": {reader.csrf}, "text": {"x"}}, http.StatusForbidden},
		{"policies without token", admin, "/ui/policies", url.Values{"csrf": {""}, "policies": {"[]"}}, http.StatusForbidden},
		{"logout without token", admin, "/ui/logout", url.Values{"csrf": {""}}, http.StatusForbidden},
		{"admin with token", admin, note, url.Values{"text": {"fine"}}, http.StatusSeeOther},
		{"reader note", reader, note, url.Values{"text": {"x"}}, http.StatusForbidden},
		{"reader release", reader, "/ui/quarantine/" + e.recordID + "/release", url.Values{"reason": {"x"}, "confirm": {"yes"}}, http.StatusForbidden},
		{"reader policies", reader, "/ui/policies", url.Values{"policies": {"[]"}}, http.StatusForbidden},
		{"reader adds user", reader, "/ui/users", url.Values{"name": {"eve"}, "role": {"admin"}, "password": {"eve-password-123"}}, http.StatusForbidden},
		{"reader's token for another", reader, "/ui/tokens", url.Values{"user": {adminUser}, "name": {"x"}, "ttl": {"24h"}}, http.StatusForbidden},
		{"login without token", e.browser(t), "/ui/login", url.Values{"csrf": {""}, "user": {adminUser}, "password": {adminPass}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.b.post(tt.path, tt.form)
			if a.status != tt.want {
				t.Errorf("POST %s = %d, want %d\n%s", tt.path, a.status, tt.want, a.body)
			}
			checkHeaders(t, a)
		})
	}
}

func TestReleaseAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminUser, adminPass)
	b.get("/ui/quarantine/" + e.recordID)
	release := "/ui/quarantine/" + e.recordID + "/release"
	for _, form := range []url.Values{
		{"reason": {"vetted"}},                 // not confirmed
		{"reason": {"  "}, "confirm": {"yes"}}, // no reason
	} {
		if a := b.post(release, form); a.status != http.StatusBadRequest || !strings.Contains(a.body, `role="alert"`) {
			t.Errorf("release with %v = %d, want 400 with the form's error", form, a.status)
		}
	}
	if a := b.post(release, url.Values{"reason": {"vetted"}, "confirm": {"yes"}}); a.status != http.StatusSeeOther {
		t.Fatalf("release = %d\n%s", a.status, a.body)
	}
	if a := b.get("/ui/quarantine/" + e.recordID + "?done=released"); !strings.Contains(a.body, "released") || strings.Contains(a.body, `id="release-form"`) {
		t.Error("the released record still offers a release or does not say released")
	}
	if a := b.get("/ui/audit?action=released"); !strings.Contains(a.body, "vetted") {
		t.Error("the audit log does not show the release's reason")
	}
	if a := b.post("/ui/quarantine/"+e.recordID+"/delete", url.Values{"reason": {"judge again"}, "confirm": {"yes"}}); a.status != http.StatusSeeOther {
		t.Fatalf("delete = %d\n%s", a.status, a.body)
	}
	if a := b.get("/ui/quarantine/" + e.recordID); a.status != http.StatusNotFound {
		t.Errorf("deleted record = %d, want 404", a.status)
	}
}

func TestLoginRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	for _, path := range []string{"/ui/", "/ui/quarantine?repo=x", "/ui/users"} {
		a := b.get(path)
		want := "/ui/login?next=" + url.QueryEscape(path)
		if a.status != http.StatusSeeOther || a.header.Get("Location") != want {
			t.Errorf("GET %s signed out = %d to %q, want 303 to %q", path, a.status, a.header.Get("Location"), want)
		}
	}
	if a := b.post("/ui/quarantine/"+e.recordID+"/notes", url.Values{"text": {"x"}}); a.status != http.StatusUnauthorized {
		t.Errorf("POST signed out = %d, want 401", a.status)
	}
	if a := b.get("/"); a.status != http.StatusFound || a.header.Get("Location") != "/ui/" {
		t.Errorf("GET / = %d to %q, want 302 to /ui/", a.status, a.header.Get("Location"))
	}
	if a := b.get("/v2/"); a.status == http.StatusFound || a.status == http.StatusSeeOther {
		t.Errorf("GET /v2/ = %d: the registry's paths must not be redirected", a.status)
	}
}

func TestLoginNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct{ next, want string }{
		{"/ui/audit?user=bob", "/ui/audit?user=bob"},
		{"/ui/quarantine", "/ui/quarantine"},
		{"", "/ui/"},
		{"//evil.example/ui/", "/ui/"},
		{"https://evil.example/ui/", "/ui/"},
		{"/\\evil.example", "/ui/"},
		{"/v2/", "/ui/"},
		{"/ui/../v2/", "/ui/"},
		{"/uix", "/ui/"},
		{"javascript:alert(1)", "/ui/"},
		{"/ui/login", "/ui/"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			b := e.browser(t)
			b.get("/ui/login?next=" + url.QueryEscape(tt.next))
			a := b.post("/ui/login", url.Values{"user": {adminUser}, "password": {adminPass}, "next": {tt.next}})
			if a.status != http.StatusSeeOther || a.header.Get("Location") != tt.want {
				t.Errorf("login with next %q = %d to %q, want 303 to %q", tt.next, a.status, a.header.Get("Location"), tt.want)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.get("/ui/login")
	var a answer
	for i := 0; i < 3; i++ {
		if a = b.post("/ui/login", url.Values{"user": {readerUser}, "password": {"wrong"}}); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d = %d, want 401", i, a.status)
		}
		checkHeaders(t, a)
	}
	a = b.post("/ui/login", url.Values{"user": {readerUser}, "password": {readerPass}})
	if a.status != http.StatusTooManyRequests || !strings.Contains(a.body, "Too many failed attempts") {
		t.Errorf("login after 3 failures = %d, want 429 with the message\n%s", a.status, a.body)
	}
	// Another user from the same client is not locked out.
	b2 := e.browser(t)
	b2.login(adminUser, adminPass)
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.get("/ui/login")
	a := b.post("/ui/login", url.Values{"user": {adminUser}, "password": {adminPass}})
	var c string
	for _, sc := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, auth.SessionCookie+"=") {
			c = sc
		}
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(c, attr) {
			t.Errorf("session cookie %q lacks %s", c, attr)
		}
	}
	if strings.Contains(c, "Secure") {
		t.Errorf("session cookie %q is Secure over plain HTTP without an https public_url", c)
	}
	// Logging out ends the session on the server, not just the cookie.
	b.get("/ui/")
	if a := b.post("/ui/logout", url.Values{}); a.status != http.StatusSeeOther {
		t.Fatalf("logout = %d", a.status)
	}
	if a := b.get("/ui/"); a.status != http.StatusSeeOther {
		t.Errorf("after logout GET /ui/ = %d, want a redirect to login", a.status)
	}
}

func TestForcedPasswordChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(auth.BootstrapUser, e.firstPassword)
	for _, path := range []string{"/ui/", "/ui/quarantine", "/ui/tokens"} {
		if a := b.get(path); a.status != http.StatusSeeOther || a.header.Get("Location") != "/ui/password" {
			t.Errorf("GET %s before the first change = %d to %q, want 303 to /ui/password", path, a.status, a.header.Get("Location"))
		}
	}
	a := b.get("/ui/password")
	if a.status != http.StatusOK || strings.Contains(a.body, `name="current"`) {
		t.Errorf("forced password form = %d; it must not ask for the current password", a.status)
	}
	if a := b.post("/ui/password", url.Values{"password": {"new-admin-pass-1"}, "confirm": {"other"}}); a.status != http.StatusBadRequest {
		t.Errorf("differing passwords = %d, want 400", a.status)
	}
	if a := b.post("/ui/password", url.Values{"password": {"new-admin-pass-1"}, "confirm": {"new-admin-pass-1"}}); a.status != http.StatusSeeOther {
		t.Fatalf("change password = %d\n%s", a.status, a.body)
	}
	if a := b.get("/ui/"); a.status != http.StatusOK {
		t.Errorf("GET /ui/ after the change = %d, want 200", a.status)
	}
	// The old password is gone, the new one works.
	old := e.browser(t)
	old.get("/ui/login")
	if a := old.post("/ui/login", url.Values{"user": {auth.BootstrapUser}, "password": {e.firstPassword}}); a.status != http.StatusUnauthorized {
		t.Errorf("login with the first password after the change = %d, want 401", a.status)
	}
	e.browser(t).login(auth.BootstrapUser, "new-admin-pass-1")
}

func TestTokensAndUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(readerUser, readerPass)
	b.get("/ui/tokens")
	a := b.post("/ui/tokens", url.Values{"name": {"laptop"}, "ttl": {"24h"}})
	if a.status != http.StatusOK {
		t.Fatalf("create token = %d\n%s", a.status, a.body)
	}
	secret := regexp.MustCompile(`id="secret" readonly value="(bw_[^"]+)"`).FindStringSubmatch(a.body)
	if secret == nil {
		t.Fatalf("the new token's secret is not shown\n%s", a.body)
	}
	if a := b.get("/ui/tokens"); strings.Contains(a.body, secret[1]) || !strings.Contains(a.body, "laptop") {
		t.Error("the token list shows the secret again, or not the token")
	}
	if a := b.post("/ui/tokens/revoke", url.Values{"user": {readerUser}, "name": {"laptop"}}); a.status != http.StatusSeeOther {
		t.Errorf("revoke = %d", a.status)
	}

	admin := e.browser(t)
	admin.login(adminUser, adminPass)
	admin.get("/ui/users")
	if a := admin.post("/ui/users", url.Values{"name": {"carol"}, "role": {"reader"}, "password": {"carol-password-1"}}); a.status != http.StatusSeeOther {
		t.Fatalf("add user = %d\n%s", a.status, a.body)
	}
	if a := admin.post("/ui/users", url.Values{"name": {"carol"}, "role": {"reader"}, "password": {"carol-password-1"}}); a.status != http.StatusConflict {
		t.Errorf("add an existing user = %d, want 409", a.status)
	}
	if a := admin.post("/ui/users", url.Values{"name": {"dave"}, "role": {"root"}, "password": {"dave-password-1"}}); a.status != http.StatusBadRequest {
		t.Errorf("add a user with an unknown role = %d, want 400", a.status)
	}
	e.browser(t).login("carol", "carol-password-1")
	if a := admin.post("/ui/users/delete", url.Values{"name": {"carol"}}); a.status != http.StatusBadRequest {
		t.Errorf("delete without confirming = %d, want 400", a.status)
	}
	if a := admin.post("/ui/users/delete", url.Values{"name": {"carol"}, "confirm": {"yes"}}); a.status != http.StatusSeeOther {
		t.Errorf("delete user = %d", a.status)
	}
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminUser, adminPass)
	b.get("/ui/policies")
	tests := []struct {
		name, text string
		want       int
		show       string
	}{
		{"not yaml", "- name: [", http.StatusBadRequest, "do not parse"},
		{"unknown key", "- name: x\n  colour: red\n  action: fail\n", http.StatusBadRequest, "colour"},
		{"invalid", "- name: Bad Name\n  action: fail\n  conditions: {malware: true}\n", http.StatusBadRequest, "not valid"},
		{"valid yaml", "- name: no-malware\n  action: fail\n  conditions: {malware: true}\n", http.StatusSeeOther, ""},
		{"valid json", `[{"name": "crit", "action": "warn", "conditions": {"min_score": 9}}]`, http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.post("/ui/policies", url.Values{"policies": {tt.text}})
			if a.status != tt.want || !strings.Contains(a.body, tt.show) {
				t.Errorf("POST policies %q = %d, want %d showing %q\n%s", tt.text, a.status, tt.want, tt.show, a.body)
			}
		})
	}
	if a := b.get("/ui/policies"); !strings.Contains(a.body, "crit") {
		t.Error("the saved policies are not shown")
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	for path, ctype := range map[string]string{"/ui/static/style.css": "text/css", "/ui/static/sort.js": "javascript"} {
		a := b.get(path)
		if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), ctype) || a.body == "" {
			t.Errorf("GET %s = %d %q", path, a.status, a.header.Get("Content-Type"))
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks nosniff", path)
		}
	}
	if a := b.get("/ui/static/nope.css"); a.status != http.StatusNotFound {
		t.Errorf("missing asset = %d, want 404", a.status)
	}
}
