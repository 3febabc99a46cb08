package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/inventory"
	"breakwater/internal/policy"
	"breakwater/internal/server"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/vulndb"
)

// The test users; the bootstrap admin "admin" keeps its first password.
const (
	adminUser, adminPass   = "alice", "alice-password-123"
	readerUser, readerPass = "bob", "bob-password-123"
	// hostile is text an attacker controls (a feed's summary, an admin's
	// note); it must come out escaped.
	hostile = `<script>alert("x")</script>`
)

var (
	imageDigest   = digest.FromString("quarantined image")
	auditedDigest = digest.FromString("audited image")
)

// env is a built breakwater on a fresh data directory behind an
// httptest server, with users and a quarantine record.
type env struct {
	url      string
	data     string
	recordID string
	// firstPassword is the bootstrap admin's password.
	firstPassword string
	// meta is a second handle on the server's metadata, for tests that
	// add records of their own.
	meta *sqlite.Meta
	// client talks to the server (trusting its certificate over TLS).
	client *http.Client
}

// envOptions vary the configuration of newEnvWith.
type envOptions struct {
	publicURL string
	tls       bool
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envOptions{}) }

// rateLimited is a stand-in for Docker Hub on 127.0.0.1: it knows no
// image, and reports a pull limit on every answer as Docker Hub does.
func rateLimited(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Limit", "100;w=21600")
		w.Header().Set("RateLimit-Remaining", "76;w=21600")
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
	}))
	t.Cleanup(up.Close)
	return up
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	c := config.Default()
	c.Data = t.TempDir()
	c.Firewall.Firewall = c.Firewall.WithMode(policy.ModeQuarantine)
	c.VulnDB.Feeds = nil
	c.Auth.LoginLimit = 3
	c.Auth.PublicURL = o.publicURL
	// Both upstreams are on 127.0.0.1: docker.io answers with a rate
	// limit, down.example refuses connections.
	hub := c.Upstreams[0]
	hub.URL, hub.SearchURL = rateLimited(t).URL, ""
	down := config.Upstream{Name: "down.example", URL: closedURL(t), Timeout: 5 * time.Second}
	c.Upstreams = []config.Upstream{hub, down}
	srv, err := server.Build(c, nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	if o.tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
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
	a, err := auth.New(auth.Options{Store: meta, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{url: ts.URL, data: c.Data, meta: meta, client: ts.Client()}
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

	malware := inventory.Finding{ID: "MAL-2025-0001", Summary: hostile, Malware: true,
		Component: inventory.Component{Ecosystem: "npm", Name: "debug", Version: "4.4.2", Path: "usr/lib/node_modules/debug/package.json"}}
	critical := inventory.Finding{ID: "CVE-2024-0002", Summary: "a bug", Score: 9.8, Scored: true, Severity: "critical", FixedVersion: "1.2.4",
		Component: inventory.Component{Ecosystem: "Debian:12", Name: "libfoo", Version: "1.2.3"}}
	ev, err := json.Marshal(firewall.Evidence{
		Verdict: policy.Verdict{Result: policy.ResultQuarantine, Reason: "malware", Matches: []policy.Match{
			{Policy: "malware", Action: policy.ActionFail, Findings: []inventory.Finding{malware}},
			{Policy: "cvss-8", Action: policy.ActionFail, Findings: []inventory.Finding{critical}},
			{Policy: "retired-policy", Action: policy.ActionWarn},
		}},
		Findings: []inventory.Finding{
			malware,
			critical,
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
	// The same critical CVE in an image of an audit-mode repository,
	// which was served, and in the quarantined one.
	for _, v := range []store.Verdict{
		{Repo: "docker.io/library/evil", Digest: imageDigest, Result: "quarantine", Vulns: []string{"MAL-2025-0001", "CVE-2024-0002", "CVE-2024-0003"}, JudgedAt: now.Add(-time.Hour)},
		{Repo: "docker.io/library/audited", Digest: auditedDigest, Result: "audit", Vulns: []string{"CVE-2024-0002"}, JudgedAt: now.Add(-time.Hour), ServedAt: now.Add(-time.Hour)},
	} {
		if err := meta.PutVerdict(ctx, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []store.AuditEntry{
		{At: now.Add(-time.Hour), Actor: "firewall", Action: "violation", Repo: "docker.io/library/audited", Digest: auditedDigest, Details: "result=audit"},
		{At: now.Add(-50 * time.Minute), Actor: readerUser, Action: "pull", Repo: "docker.io/library/audited", Digest: auditedDigest, Client: "10.0.0.7", Result: "audit"},
		{At: now.Add(-40 * time.Minute), Actor: readerUser, Action: "pull", Repo: "docker.io/library/audited", Digest: auditedDigest, Client: "10.0.0.7", Result: "audit"},
	} {
		if err := meta.AppendAudit(ctx, a); err != nil {
			t.Fatal(err)
		}
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
		Transport:     e.client.Transport,
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
	styleAttr    = regexp.MustCompile(`(?i)<[a-z][^>]*\s(?:style|on[a-z]+)\s*=|<style|javascript:`)
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
	if a := b.post("/ui/tokens", url.Values{"name": {"forever"}, "ttl": {"2562047h"}}); a.status != http.StatusBadRequest || !strings.Contains(a.body, "at most 100 years") {
		t.Errorf("token for 292 years = %d, want 400 saying the limit", a.status)
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
	// A token for a user deleted since the form was drawn says whom.
	admin.get("/ui/tokens")
	if a := admin.post("/ui/tokens", url.Values{"user": {"carol"}, "name": {"ci"}, "ttl": {"24h"}}); a.status != http.StatusNotFound || !strings.Contains(a.body, "There is no user carol.") {
		t.Errorf("token for a deleted user = %d, want 404 naming the user\n%s", a.status, a.body)
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
		{"not yaml", "- name: [", http.StatusBadRequest, "The policies do not parse as YAML or JSON: line 1: did not find expected node content."},
		{"unknown key", "- name: x\n  colour: red\n  action: fail\n", http.StatusBadRequest, "line 2: there is no key colour."},
		{"wrong kind", "policies: {name: x}", http.StatusBadRequest, "line 1: an object is not expected here."},
		{"scalar", "hello", http.StatusBadRequest, "The policies must be a list, or an object with &#34;policies&#34;, a list."},
		{"object without policies", `{"rules": []}`, http.StatusBadRequest, "there is no key rules"},
		{"object with null policies", `{"policies": null}`, http.StatusBadRequest, "The object needs &#34;policies&#34;, a list"},
		{"empty", " \n", http.StatusBadRequest, "The policy list is empty; write [] to remove every policy."},
		{"invalid", "- name: Bad Name\n  action: fail\n  conditions: {malware: true}\n", http.StatusBadRequest, "The policies are not valid; fix these and save again:"},
		{"valid yaml", "- name: no-malware\n  action: fail\n  conditions: {malware: true}\n", http.StatusSeeOther, ""},
		{"valid json", `[{"name": "crit", "action": "warn", "conditions": {"min_score": 9}}]`, http.StatusSeeOther, ""},
		{"the API's object as JSON", `{"policies": [{"name": "api-json", "action": "warn", "conditions": {"min_score": 8}}]}`, http.StatusSeeOther, ""},
		{"the API's object as YAML", "policies:\n  - name: api-yaml\n    action: fail\n    conditions: {malware: true}\n", http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.post("/ui/policies", url.Values{"policies": {tt.text}})
			if a.status != tt.want || !strings.Contains(a.body, tt.show) {
				t.Errorf("POST policies %q = %d, want %d showing %q\n%s", tt.text, a.status, tt.want, tt.show, a.body)
			}
			if strings.Contains(a.body, "policy.Set") || strings.Contains(a.body, "policy.Policy") || strings.Contains(a.body, "struct {") ||
				strings.Contains(a.body, "yaml:") || strings.Contains(a.body, "!!") {
				t.Errorf("POST policies %q shows the parser's own words\n%s", tt.text, a.body)
			}
		})
	}
	if a := b.get("/ui/policies"); !strings.Contains(a.body, "api-yaml") {
		t.Error("the saved policies are not shown")
	}

	// Every problem is listed, not only the first.
	a := b.post("/ui/policies", url.Values{"policies": {"- name: Bad Name\n  action: maybe\n  conditions: {}\n- name: ok\n  action: fail\n  conditions: {min_score: 11}\n"}})
	for _, want := range []string{
		`<li>policies[0].name: &#34;Bad Name&#34; must be lower-case`,
		`<li>policies[0].action: must be fail, warn or none, not &#34;maybe&#34;</li>`,
		`<li>policies[0].conditions: at least one condition must be set</li>`,
		`<li>policies[1].conditions.min_score: must be between 0 and 10, not 11</li>`,
	} {
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, want) {
			t.Errorf("invalid policies = %d, want 400 listing %q\n%s", a.status, want, a.body)
		}
	}
	if !strings.Contains(a.body, "Bad Name") || !strings.Contains(a.body, "min_score: 11") {
		t.Error("the posted text is not kept for correcting")
	}
}

// TestErrorSentences holds the dashboard's error messages to one plain
// sentence each, without the wrapping of the layers beneath.
func TestErrorSentences(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminUser, adminPass)
	b.get("/ui/users")
	if a := b.post("/ui/users", url.Values{"name": {"erin"}, "role": {"reader"}, "password": {"erin-password-1"}}); a.status != http.StatusSeeOther {
		t.Fatalf("add user = %d\n%s", a.status, a.body)
	}
	tests := []struct {
		name   string
		do     func() answer
		status int
		want   string
	}{
		{"unknown severity", func() answer { return b.get("/ui/quarantine?severity=bogus") }, http.StatusBadRequest,
			`Severity must be low, medium, high or critical, not &#34;bogus&#34;.`},
		{"unknown sort", func() answer { return b.get("/ui/quarantine?sort=size") }, http.StatusBadRequest,
			`Sort must be newest, oldest, score or repo, not &#34;size&#34;.`},
		{"until before since", func() answer { return b.get("/ui/quarantine?since=1d&until=2d") }, http.StatusBadRequest,
			`Until must not be before Since.`},
		{"bad since", func() answer { return b.get("/ui/quarantine?since=yesterday") }, http.StatusBadRequest,
			`Since must be a date (2026-03-01), a time (2026-03-01T12:00:00Z) or a duration back from now (24h, 7d) of up to 100 years.`},
		{"bad until", func() answer { return b.get("/ui/audit?until=soon") }, http.StatusBadRequest,
			`Until must be a date (2026-03-01), a time (2026-03-01T12:00:00Z) or a duration back from now (24h, 7d) of up to 100 years.`},
		{"unknown audit action", func() answer { return b.get("/ui/audit?action=bogus") }, http.StatusBadRequest,
			`The audit log has no action &#34;bogus&#34;; pick one from the list.`},
		{"delete unconfirmed", func() answer { return b.post("/ui/users/delete", url.Values{"name": {"erin"}}) }, http.StatusBadRequest,
			`Tick the box to confirm deleting erin.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.do()
			if a.status != tt.status || !strings.Contains(a.body, `<p>`+tt.want+`</p>`) {
				t.Errorf("= %d, want %d showing %q\n%s", a.status, tt.status, tt.want, a.body)
			}
		})
	}

	// The add form words what it knows itself rather than pass on the
	// layers' wrapping.
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"existing user", url.Values{"name": {"erin"}, "role": {"reader"}, "password": {"erin-password-1"}}, http.StatusConflict, "There is already a user named erin."},
		{"unknown role", url.Values{"name": {"dave"}, "role": {"root"}, "password": {"dave-password-1"}}, http.StatusBadRequest, `Role must be reader or admin, not &#34;root&#34;.`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := b.post("/ui/users", tt.form)
			if a.status != tt.status || !strings.Contains(a.body, `role="alert"><p>`+tt.want+`</p>`) {
				t.Errorf("= %d, want %d showing %q\n%s", a.status, tt.status, tt.want, a.body)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	for path, ctype := range map[string]string{"/ui/static/style.css": "text/css", "/ui/static/sort.js": "javascript", "/ui/static/favicon.png": "image/png"} {
		a := b.get(path)
		if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), ctype) || a.body == "" {
			t.Errorf("GET %s = %d %q", path, a.status, a.header.Get("Content-Type"))
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s lacks nosniff", path)
		}
	}
	// The layout names the icon, so browsers do not ask the registry for
	// /favicon.ico.
	if a := b.get("/ui/login"); !strings.Contains(a.body, `<link rel="icon" type="image/png" href="/ui/static/favicon.png">`) {
		t.Errorf("the layout does not link the icon\n%s", a.body)
	}
	if a := b.get("/ui/static/nope.css"); a.status != http.StatusNotFound {
		t.Errorf("missing asset = %d, want 404", a.status)
	}
	if a := b.get("/ui/static/"); a.status != http.StatusNotFound || strings.Contains(a.body, "style.css") {
		t.Errorf("the assets' directory = %d, want 404 without a listing", a.status)
	}
	// A form too large is said to be so, not taken for a stale one.
	huge := url.Values{"user": {strings.Repeat("x", 2<<20)}, "password": {"x"}}
	if a := b.post("/ui/login", huge); a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "larger than 1024 KiB") {
		t.Errorf("a 2 MiB login form = %d, want 413", a.status)
	}
	b.login(adminUser, adminPass)
	if a := b.post("/ui/policies", url.Values{"policies": {strings.Repeat("x", 2<<20)}}); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB policy form = %d, want 413", a.status)
	}
}

// pull asks breakwater for a manifest as alice, through the registry's
// guard, and returns the status.
func (e *env) pull(t *testing.T, path string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, adminPass)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// between returns the text of body from the first from up to the next to
// after it, failing the test if either is missing.
func between(t *testing.T, body, from, to string) string {
	t.Helper()
	i := strings.Index(body, from)
	if i < 0 {
		t.Fatalf("page lacks %q", from)
	}
	j := strings.Index(body[i:], to)
	if j < 0 {
		t.Fatalf("page lacks %q after %q", to, from)
	}
	return body[i : i+j]
}

var tickLabel = regexp.MustCompile(`text-anchor="end"[^>]*>([^<]*)</text>`)

func TestOverview(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// One answer from each upstream: docker.io reports its pull limit,
	// down.example refuses the connection and is marked down.
	if got := e.pull(t, "/v2/library/nothing/manifests/1"); got != http.StatusNotFound {
		t.Errorf("pull from the stand-in Docker Hub = %d, want 404", got)
	}
	if got := e.pull(t, "/v2/down.example/app/manifests/1"); got < 500 {
		t.Errorf("pull from an upstream that is down = %d, want 5xx", got)
	}
	b := e.browser(t)
	b.login(adminUser, adminPass)
	a := b.get("/ui/")
	if a.status != http.StatusOK {
		t.Fatalf("GET /ui/ = %d\n%s", a.status, a.body)
	}
	tiles := between(t, a.body, `class="tiles"`, "</section>")
	// 10 pulls, 8 hits of 10 lookups, 5 MiB from the cache, 1 MiB fetched,
	// one violation and one quarantine in the buckets newEnv wrote.
	for _, want := range []string{">10<", "80.0%", "5.0 MiB", "1.0 MiB", "quarantine records"} {
		if !strings.Contains(tiles, want) {
			t.Errorf("the totals do not show %q:\n%s", want, tiles)
		}
	}
	charts := between(t, a.body, `class="charts"`, "</section>")
	for _, want := range []string{"Pulls per hour", "Cache hit rate per hour", "Bytes served per hour", "Violations and quarantines per hour",
		"<polyline", "<circle", "<rect", "hit rate: 80%", "from cache: 5 MiB", "fetched upstream: 1 MiB", "quarantined: 1"} {
		if !strings.Contains(charts, want) {
			t.Errorf("the charts do not show %q", want)
		}
	}
	if n := strings.Count(charts, "<svg viewBox"); n != 4 {
		t.Errorf("%d charts drawn, want 4", n)
	}
	// The axes read as whole pulls, round byte units and percentages.
	var ticks []string
	for _, m := range tickLabel.FindAllStringSubmatch(charts, -1) {
		ticks = append(ticks, m[1])
	}
	for _, want := range []string{"8", "4 MiB", "8 MiB", "100%", "50%"} {
		if !slices.Contains(ticks, want) {
			t.Errorf("no axis tick %q among %q", want, ticks)
		}
	}
	for _, tick := range ticks {
		if strings.Contains(tick, ".") {
			t.Errorf("axis tick %q is a fraction", tick)
		}
	}

	ups := between(t, a.body, `id="upstreams"`, "</table>")
	hubRow := between(t, ups, "docker.io", "</tr>")
	for _, want := range []string{"(default)", "up", "76 of 100 per 6h00m"} {
		if !strings.Contains(hubRow, want) {
			t.Errorf("docker.io's row lacks %q:\n%s", want, hubRow)
		}
	}
	// The breaker marks an upstream down only when revalidating a cached
	// tag fails (render_internal_test.go shows that state); a failed
	// fetch shows as the last failure.
	downRow := between(t, ups, "down.example", "</tr>")
	if !strings.Contains(downRow, "connection refused") || !strings.Contains(downRow, "not reported") {
		t.Errorf("down.example's row does not say why its last request failed, and that it reported no limit:\n%s", downRow)
	}
	if vdb := between(t, a.body, "<h2>Vulnerability data</h2>", "</section>"); !strings.Contains(vdb, "not loaded") {
		t.Errorf("the vulnerability data is not said to be missing:\n%s", vdb)
	}

	if a := b.get("/ui/?range=7d"); a.status != http.StatusOK || !strings.Contains(a.body, `<option value="7d" selected>`) {
		t.Errorf("GET /ui/?range=7d = %d or the period is not selected", a.status)
	}
	if a := b.get("/ui/?range=1y"); a.status != http.StatusBadRequest {
		t.Errorf("GET /ui/?range=1y = %d, want 400", a.status)
	}
}

func TestVulnDBAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(readerUser, readerPass)
	if tile := between(t, b.get("/ui/").body, `id="vulndb-age"`, "</div>"); !strings.Contains(tile, "not loaded") {
		t.Errorf("with no data the age tile does not say so:\n%s", tile)
	}
	// An import through a second handle, as `breakwater vulndb import`
	// makes while serve runs.
	db, err := server.OpenVulnDB(e.data, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := vulndb.Import(context.Background(), db, filepath.Join("..", "vulndb", "testdata", "osv", "malicious", "npm")); err != nil {
		t.Fatalf("import: %v", err)
	}
	a := b.get("/ui/")
	tile := between(t, a.body, `id="vulndb-age"`, "</div>")
	if !regexp.MustCompile(`>\d+s<`).MatchString(tile) || !strings.Contains(tile, "vulnerability data age") {
		t.Errorf("the age tile does not give the import's age in seconds:\n%s", tile)
	}
	vdb := between(t, a.body, "<h2>Vulnerability data</h2>", "</section>")
	for _, want := range []string{"ready", "oldest import", "malicious", ">9<"} {
		if !strings.Contains(vdb, want) {
			t.Errorf("the vulnerability data section lacks %q:\n%s", want, vdb)
		}
	}
}

// putRecord adds a quarantine record of repo with one finding.
func (e *env) putRecord(t *testing.T, id, repo string, at time.Time, pol string, f inventory.Finding) {
	t.Helper()
	ev, err := json.Marshal(firewall.Evidence{
		Verdict:  policy.Verdict{Result: policy.ResultQuarantine, Reason: pol},
		Findings: []inventory.Finding{f},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.meta.PutQuarantine(context.Background(), store.Quarantine{
		ID: id, Upstream: "docker.io", Repo: repo, Tag: "1", Digest: digest.FromString(id),
		RequestedAt: at, RequestedBy: readerUser, Policies: []string{pol},
		Severity: f.Severity, MaxScore: f.Score, Evidence: ev,
	})
	if err != nil {
		t.Fatal(err)
	}
}

var recordLink = regexp.MustCompile(`href="/ui/quarantine/(q[0-9a-z]+)"`)

// listed returns the record ids a quarantine list page links, in order.
func listed(body string) []string {
	var ids []string
	for _, m := range recordLink.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestQuarantineFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now().UTC()
	e.putRecord(t, "q0000000000000002", "docker.io/library/old", now.Add(-72*time.Hour), "cvss-8",
		inventory.Finding{ID: "CVE-2023-1", Score: 8.1, Scored: true, Severity: "high"})
	e.putRecord(t, "q0000000000000003", "docker.io/library/low", now.Add(-2*time.Hour), "fixable",
		inventory.Finding{ID: "CVE-2023-2", Score: 2.0, Scored: true, Severity: "low", FixedVersion: "2"})
	const evil, old, low = "q0000000000000001", "q0000000000000002", "q0000000000000003"
	b := e.browser(t)
	b.login(readerUser, readerPass)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{evil, low, old}},
		{"?sort=oldest", []string{old, low, evil}},
		{"?sort=score", []string{evil, old, low}},
		{"?sort=repo", []string{evil, low, old}},
		{"?repo=docker.io/library/old", []string{old}},
		{"?policy=fixable", []string{low}},
		{"?severity=high", []string{evil, old}},
		{"?severity=critical", []string{evil}},
		{"?since=24h", []string{evil, low}},
		{"?since=" + now.Add(-90*time.Minute).Format(time.RFC3339), []string{evil}},
		{"?until=2d", []string{old}},
		{"?since=4d&until=" + now.Add(-30*time.Hour).Format("2006-01-02T15:04"), []string{old}},
		{"?repo=docker.io/library/none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := b.get("/ui/quarantine" + tt.query)
			if a.status != http.StatusOK {
				t.Fatalf("GET = %d\n%s", a.status, a.body)
			}
			if got := listed(a.body); !slices.Equal(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
		})
	}
	for _, q := range []string{"?since=yesterday", "?until=soon", "?severity=dire", "?sort=size", "?offset=-1", "?offset=x", "?since=1d&until=2d"} {
		if a := b.get("/ui/quarantine" + q); a.status != http.StatusBadRequest || !strings.Contains(a.body, `role="alert"`) {
			t.Errorf("GET /ui/quarantine%s = %d, want 400 with the error shown", q, a.status)
		}
	}
	// The filters stay filled in, and the selects keep their choice.
	a := b.get("/ui/quarantine?repo=docker.io/library/old&severity=high&sort=score&until=1h")
	for _, want := range []string{`value="docker.io/library/old"`, `<option value="high" selected>`, `<option value="score" selected>`, `id="until" name="until" value="1h"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the filter form lost %q", want)
		}
	}
}

func TestQuarantinePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := time.Now().UTC().Add(-10 * time.Hour)
	for i := range 30 {
		e.putRecord(t, fmt.Sprintf("q1%015d", i), "docker.io/library/many", base.Add(time.Duration(i)*time.Minute), "cvss-8",
			inventory.Finding{ID: "CVE-2023-1", Score: 8.1, Scored: true, Severity: "high"})
	}
	b := e.browser(t)
	b.login(readerUser, readerPass)
	a := b.get("/ui/quarantine?repo=docker.io/library/many")
	if got := listed(a.body); len(got) != 25 || got[0] != "q1000000000000029" || !strings.Contains(a.body, "1–25 of 30") {
		t.Fatalf("first page lists %d records from %v", len(got), got[:min(1, len(got))])
	}
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(a.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	a = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if got := listed(a.body); len(got) != 5 || got[4] != "q1000000000000000" || !strings.Contains(a.body, `rel="prev"`) || strings.Contains(a.body, `rel="next"`) {
		t.Errorf("second page lists %v", got)
	}
}

// rows returns the rows of the table with id, each as its cells' text.
func rows(t *testing.T, body, id string) [][]string {
	t.Helper()
	table := between(t, body, `id="`+id+`"`, "</table>")
	tbody := between(t, table, "<tbody>", "</tbody>")
	var out [][]string
	for _, tr := range strings.Split(tbody, "<tr")[1:] {
		var cells []string
		for _, td := range strings.Split(tr, "<td")[1:] {
			cells = append(cells, strings.TrimSpace(tagRE.ReplaceAllString("<td"+td, " ")))
		}
		out = append(out, cells)
	}
	return out
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func TestQuarantineEvidence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(readerUser, readerPass)
	detail := "/ui/quarantine/" + e.recordID
	ids := func(query string) []string {
		var out []string
		for _, r := range rows(t, b.get(detail+query).body, "findings") {
			out = append(out, strings.Fields(r[0])[0])
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"MAL-2025-0001", "CVE-2024-0002", "CVE-2024-0003"}},
		{"?sort=-score", []string{"MAL-2025-0001", "CVE-2024-0002", "CVE-2024-0003"}},
		{"?sort=score", []string{"CVE-2024-0003", "CVE-2024-0002", "MAL-2025-0001"}},
		{"?sort=id", []string{"CVE-2024-0002", "CVE-2024-0003", "MAL-2025-0001"}},
		{"?sort=package", []string{"MAL-2025-0001", "CVE-2024-0003", "CVE-2024-0002"}},
	} {
		if got := ids(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("findings with %q = %v, want %v", tt.query, got, tt.want)
		}
	}
	a := b.get(detail)
	// The score header links to the other order, without JavaScript.
	if !strings.Contains(a.body, `aria-sort="descending"><a href="/ui/quarantine/`+e.recordID+`?sort=score"`) {
		t.Error("the score column does not link to ascending order")
	}
	pkgs := rows(t, a.body, "packages")
	want := [][]string{
		{"Debian:12", "libbar", "0.1", "no fix known", "1"},
		{"Debian:12", "libfoo", "1.2.3", "1.2.4", "1"},
		{"npm", "debug", "4.4.2", "no fix known", "1"},
	}
	if !slices.EqualFunc(pkgs, want, slices.Equal[[]string]) {
		t.Errorf("packages = %q, want %q", pkgs, want)
	}
	mal := rows(t, a.body, "malware")
	if len(mal) != 1 || mal[0][0] != "MAL-2025-0001" || mal[0][1] != "debug" || mal[0][3] != "usr/lib/node_modules/debug/package.json" {
		t.Errorf("malware records = %q", mal)
	}
	fired := rows(t, a.body, "fired")
	if len(fired) != 3 {
		t.Fatalf("fired policies = %q, want 3", fired)
	}
	for i, w := range [][]string{
		{"malware", "fail", "MAL-2025-0001", `{&#34;malware&#34;:true}`},
		{"cvss-8", "fail", "CVE-2024-0002", `&#34;min_score&#34;:8`},
		{"retired-policy", "warn", "the image as a whole", "no longer in force"},
	} {
		for j, s := range w {
			if !strings.Contains(fired[i][j], s) {
				t.Errorf("fired policy %d cell %d = %q, want %q in it", i, j, fired[i][j], s)
			}
		}
	}
	if !strings.Contains(fired[0][0], "a component or file is known to be malicious") {
		t.Errorf("the fired policy's description is not shown: %q", fired[0][0])
	}
	notes := between(t, a.body, `<ul class="notes">`, "</ul>")
	if !strings.Contains(notes, adminUser) || !strings.Contains(notes, "looked at it") {
		t.Errorf("the note is not listed with its author:\n%s", notes)
	}
	if a := b.get("/ui/quarantine/qnosuchrecord0000"); a.status != http.StatusNotFound {
		t.Errorf("unknown record = %d, want 404", a.status)
	}
	if a := b.get("/ui/quarantine/bad%20id"); a.status != http.StatusBadRequest {
		t.Errorf("malformed record id = %d, want 400", a.status)
	}
}

func TestViolationsAndExposure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(readerUser, readerPass)
	vs := rows(t, b.get("/ui/violations").body, "violations")
	want := [][]string{
		// repository, allowed, audited, quarantined, inspection failed
		{"docker.io/library/audited", "0", "1", "0", "0"},
		{"docker.io/library/evil", "0", "0", "1", "0"},
	}
	if len(vs) != 2 {
		t.Fatalf("violations = %q", vs)
	}
	for i := range want {
		if !slices.Equal(vs[i][:5], want[i]) {
			t.Errorf("violations row %d = %q, want %q", i, vs[i][:5], want[i])
		}
	}
	if vs[0][5] == "–" {
		t.Error("the audit-mode repository's last violation is not shown")
	}

	a := b.get("/ui/vulnerabilities?id=CVE-2024-0002")
	ex := rows(t, a.body, "exposure")
	if len(ex) != 2 {
		t.Fatalf("exposure = %q, want both images", ex)
	}
	if ex[0][0] != "docker.io/library/audited" || ex[0][2] != "audit" || !strings.Contains(ex[0][3], readerUser+" from 10.0.0.7: 2 pulls") {
		t.Errorf("audited image row = %q, want bob's two pulls from 10.0.0.7", ex[0])
	}
	if ex[1][0] != "docker.io/library/evil" || ex[1][2] != "quarantine" || !strings.Contains(ex[1][3], readerUser) {
		t.Errorf("quarantined image row = %q", ex[1])
	}
	// The quarantined image links to its record, the served one to its audit log.
	if !strings.Contains(a.body, `href="/ui/quarantine?repo=docker.io%2flibrary%2fevil"`) || !strings.Contains(a.body, "/ui/audit?digest="+strings.Replace(auditedDigest.String(), ":", "%3a", 1)) {
		t.Errorf("exposure rows do not link to the records and the audit log:\n%s", between(t, a.body, `id="exposure"`, "</table>"))
	}
	if a := b.get("/ui/vulnerabilities?id=CVE-1999-0001"); !strings.Contains(a.body, "No judged image carries it") {
		t.Error("an unknown vulnerability does not say no image carries it")
	}
	if a := b.get("/ui/vulnerabilities?id=" + url.QueryEscape("bad id!")); a.status != http.StatusBadRequest {
		t.Errorf("malformed id = %d, want 400", a.status)
	}
}

func TestAuditFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(readerUser, readerPass)
	count := func(query string) int {
		a := b.get("/ui/audit" + query)
		if a.status != http.StatusOK {
			t.Fatalf("GET /ui/audit%s = %d\n%s", query, a.status, a.body)
		}
		if strings.Contains(a.body, "No entries match") {
			return 0
		}
		return len(rows(t, a.body, "audit"))
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"", 4},
		{"?user=" + readerUser, 3},
		{"?user=firewall", 1},
		{"?repo=docker.io/library/audited", 3},
		{"?digest=" + imageDigest.String(), 1},
		{"?digest=" + auditedDigest.String() + "&action=pull", 2},
		{"?since=45m", 2},
		{"?until=45m", 2},
		{"?since=55m&until=45m", 1},
		{"?user=nobody", 0},
	} {
		if got := count(tt.query); got != tt.want {
			t.Errorf("audit%s lists %d entries, want %d", tt.query, got, tt.want)
		}
	}
	for _, q := range []string{"?digest=sha256:short", "?since=later", "?before=-2", "?since=1h&until=2h"} {
		if a := b.get("/ui/audit" + q); a.status != http.StatusBadRequest {
			t.Errorf("GET /ui/audit%s = %d, want 400", q, a.status)
		}
	}
}

var postForm = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)

// TestEveryFormHasCSRF walks every page as an admin, who sees every form,
// and requires the session's token in each form that posts.
func TestEveryFormHasCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.login(adminUser, adminPass)
	b.get("/ui/tokens")
	if a := b.post("/ui/tokens", url.Values{"name": {"ci"}, "ttl": {"24h"}}); a.status != http.StatusOK {
		t.Fatalf("create token = %d", a.status) // so the token list has a revoke form
	}
	seen := map[string]bool{}
	for _, path := range []string{"/ui/", "/ui/quarantine", "/ui/quarantine/" + e.recordID, "/ui/violations", "/ui/audit",
		"/ui/vulnerabilities?id=CVE-2024-0002", "/ui/policies", "/ui/users", "/ui/tokens", "/ui/password"} {
		a := b.get(path)
		if a.status != http.StatusOK {
			t.Fatalf("GET %s = %d", path, a.status)
		}
		for _, m := range postForm.FindAllStringSubmatch(a.body, -1) {
			seen[m[1]] = true
			if !strings.Contains(m[2], `<input type="hidden" name="csrf" value="`+b.csrf+`">`) {
				t.Errorf("%s: the form posting to %s lacks the session's CSRF token", path, m[1])
			}
		}
	}
	for _, action := range []string{"/ui/logout", "/ui/quarantine/" + e.recordID + "/notes", "/ui/quarantine/" + e.recordID + "/release",
		"/ui/quarantine/" + e.recordID + "/delete", "/ui/policies", "/ui/users", "/ui/users/delete", "/ui/users/password",
		"/ui/tokens", "/ui/tokens/revoke", "/ui/password"} {
		if !seen[action] {
			t.Errorf("no form posting to %s was found", action)
		}
	}
	// The login form has no session; it carries the double-submit token.
	login := e.browser(t).get("/ui/login")
	m := postForm.FindStringSubmatch(login.body)
	if m == nil || m[1] != "/ui/login" || !regexp.MustCompile(`name="csrf" value="[A-Za-z0-9_-]{43}"`).MatchString(m[2]) {
		t.Errorf("the login form lacks its CSRF token:\n%s", login.body)
	}
	if c := cookie(login, "breakwater_login_csrf"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		t.Errorf("login CSRF cookie %q is not HttpOnly and SameSite=Strict", c)
	}
}

// cookie is the Set-Cookie header of a for the cookie name.
func cookie(a answer, name string) string {
	for _, sc := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, name+"=") {
			return sc
		}
	}
	return ""
}

// TestReaderReadOnly: a reader sees the pages without the forms that
// change something, and the server refuses those changes anyway.
func TestReaderReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.browser(t)
	admin.login(adminUser, adminPass)
	admin.get("/ui/tokens?user=" + adminUser)
	if a := admin.post("/ui/tokens", url.Values{"user": {adminUser}, "name": {"admins-token"}, "ttl": {"24h"}}); a.status != http.StatusOK {
		t.Fatalf("admin's token = %d", a.status)
	}

	b := e.browser(t)
	b.login(readerUser, readerPass)
	detail := b.get("/ui/quarantine/" + e.recordID)
	for _, s := range []string{`id="release-form"`, `id="delete-form"`, `id="note-form"`, "Release image", "Delete record", "/release", "/delete"} {
		if strings.Contains(detail.body, s) {
			t.Errorf("a reader's detail page shows %q", s)
		}
	}
	if a := b.get("/ui/policies"); strings.Contains(a.body, `action="/ui/policies"`) || strings.Contains(a.body, "<textarea") || !strings.Contains(a.body, "malware") {
		t.Error("a reader's policies page has a form, or does not show the policies")
	}
	if a := b.get("/"); strings.Contains(a.body, `href="/ui/users"`) {
		t.Error("a reader's menu offers Users")
	}
	id := e.recordID
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/ui/quarantine/" + id + "/notes", url.Values{"text": {"x"}}},
		{"/ui/quarantine/" + id + "/release", url.Values{"reason": {"x"}, "confirm": {"yes"}}},
		{"/ui/quarantine/" + id + "/delete", url.Values{"reason": {"x"}, "confirm": {"yes"}}},
		{"/ui/policies", url.Values{"policies": {"[]"}}},
		{"/ui/users", url.Values{"name": {"eve"}, "role": {"admin"}, "password": {"eve-password-123"}}},
		{"/ui/users/delete", url.Values{"name": {adminUser}, "confirm": {"yes"}}},
		{"/ui/users/password", url.Values{"name": {adminUser}, "password": {"taken-over-123"}}},
		{"/ui/tokens", url.Values{"user": {adminUser}, "name": {"x"}, "ttl": {"24h"}}},
		{"/ui/tokens/revoke", url.Values{"user": {adminUser}, "name": {"admins-token"}}},
	} {
		if a := b.post(tt.path, tt.form); a.status != http.StatusForbidden {
			t.Errorf("reader POST %s = %d, want 403", tt.path, a.status)
		}
	}
	for _, path := range []string{"/ui/users", "/ui/tokens?user=" + adminUser} {
		if a := b.get(path); a.status != http.StatusForbidden {
			t.Errorf("reader GET %s = %d, want 403", path, a.status)
		}
	}
	// Nothing changed.
	a := admin.get("/ui/quarantine/" + id)
	if !strings.Contains(a.body, "withheld") || strings.Count(a.body, `<p class="note-text">`) != 1 {
		t.Error("the record changed under the reader's refused posts")
	}
	if a := admin.get("/ui/tokens?user=" + adminUser); !strings.Contains(a.body, "admins-token") {
		t.Error("the admin's token is gone")
	}
	e.browser(t).login(adminUser, adminPass) // the password is unchanged
}

func TestTokensOfOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.browser(t)
	admin.login(adminUser, adminPass)
	a := admin.get("/ui/tokens?user=" + readerUser)
	if !strings.Contains(a.body, "Tokens of "+readerUser) || !strings.Contains(a.body, `<input type="hidden" name="user" value="`+readerUser+`">`) {
		t.Fatal("the admin does not see bob's tokens and a form to make one")
	}
	a = admin.post("/ui/tokens", url.Values{"user": {readerUser}, "name": {"bobs-ci"}, "ttl": {"720h"}})
	secret := regexp.MustCompile(`id="secret" readonly value="(bw_[^"]+)"`).FindStringSubmatch(a.body)
	if a.status != http.StatusOK || secret == nil || !strings.Contains(a.body, "bobs-ci</strong> of "+readerUser) {
		t.Fatalf("admin makes bob a token = %d\n%s", a.status, a.body)
	}
	// The secret works for bob, once shown: reading the list again does
	// not show it.
	if a := admin.get("/ui/tokens?user=" + readerUser); strings.Contains(a.body, secret[1]) || !strings.Contains(a.body, "bobs-ci") {
		t.Error("the token list shows the secret again or lacks the token")
	}
	reader := e.browser(t)
	reader.login(readerUser, readerPass)
	if a := reader.get("/ui/tokens"); !strings.Contains(a.body, "bobs-ci") || strings.Contains(a.body, `id="who"`) {
		t.Error("bob does not see his token, or is offered other users' tokens")
	}
	if a := admin.post("/ui/tokens/revoke", url.Values{"user": {readerUser}, "name": {"bobs-ci"}}); a.status != http.StatusSeeOther {
		t.Errorf("admin revokes bob's token = %d", a.status)
	}
	if a := reader.get("/ui/tokens"); strings.Contains(a.body, "bobs-ci") {
		t.Error("the revoked token is still listed")
	}
	if a := admin.post("/ui/tokens", url.Values{"user": {readerUser}, "name": {"x"}, "ttl": {"forever"}}); a.status != http.StatusBadRequest {
		t.Errorf("a token with a made-up lifetime = %d, want 400", a.status)
	}
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    envOptions
	}{
		{"https public_url", envOptions{publicURL: "https://registry.example.com"}},
		{"tls", envOptions{tls: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, tt.o)
			b := e.browser(t)
			login := b.get("/ui/login")
			if c := cookie(login, "breakwater_login_csrf"); !strings.Contains(c, "; Secure") {
				t.Errorf("login CSRF cookie %q is not Secure", c)
			}
			// Over plain HTTP the jar would not send a Secure cookie back,
			// so the form's token goes along by hand.
			req, _ := http.NewRequest(http.MethodPost, e.url+"/ui/login", strings.NewReader(url.Values{
				"csrf": {b.csrf}, "user": {adminUser}, "password": {adminPass}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "breakwater_login_csrf", Value: b.csrf})
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login = %d", resp.StatusCode)
			}
			c := cookie(answer{header: resp.Header}, auth.SessionCookie)
			for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Secure", "Path=/"} {
				if !strings.Contains(c, attr) {
					t.Errorf("session cookie %q lacks %s", c, attr)
				}
			}
		})
	}
}

// TestHostileNames: a repository name, a note, a filter and an id that
// carry markup come out escaped on every page that shows them.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const repo = `docker.io/library/<script>alert("repo")</script>`
	ctx := context.Background()
	now := time.Now().UTC()
	e.putRecord(t, "q0000000000000666", repo, now, "malware", inventory.Finding{ID: "MAL-1", Malware: true, Summary: hostile})
	if err := e.meta.PutVerdict(ctx, store.Verdict{Repo: repo, Digest: digest.FromString("q0000000000000666"), Result: "audit",
		Vulns: []string{"MAL-1"}, JudgedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.meta.AppendAudit(ctx, store.AuditEntry{At: now, Actor: `<img src=x onerror=alert(1)>`, Action: "pull", Repo: repo,
		Digest: digest.FromString("q0000000000000666"), Client: "127.0.0.1", Result: "audit", Details: hostile}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.login(adminUser, adminPass)
	b.get("/ui/quarantine/q0000000000000666")
	if a := b.post("/ui/quarantine/q0000000000000666/notes", url.Values{"text": {`</textarea><script>alert("note")</script>`}}); a.status != http.StatusSeeOther {
		t.Fatalf("add note = %d", a.status)
	}
	for _, path := range []string{
		"/ui/quarantine", "/ui/quarantine/q0000000000000666", "/ui/violations", "/ui/audit", "/ui/vulnerabilities?id=MAL-1",
		"/ui/quarantine?repo=" + url.QueryEscape(repo), "/ui/audit?repo=" + url.QueryEscape(repo) + "&user=" + url.QueryEscape(`"><script>x</script>`),
		"/ui/vulnerabilities?id=" + url.QueryEscape(`<script>alert("id")</script>`),
		"/ui/quarantine?since=" + url.QueryEscape(`<script>`),
	} {
		a := b.get(path)
		if a.status != http.StatusOK && a.status != http.StatusBadRequest {
			t.Errorf("GET %s = %d", path, a.status)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", `"><script>`, "</textarea><script>"} {
			if strings.Contains(a.body, bad) {
				t.Errorf("GET %s shows %q unescaped", path, bad)
			}
		}
		if !strings.Contains(a.body, "&lt;script&gt;") && !strings.Contains(a.body, "%3cscript%3e") {
			t.Errorf("GET %s does not show the hostile text escaped", path)
		}
		checkCSPCompliant(t, a.body)
	}
}

func TestLoginRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser(t)
	b.get("/ui/login")
	for range 3 {
		b.post("/ui/login", url.Values{"user": {adminUser}, "password": {"wrong"}})
	}
	a := b.post("/ui/login", url.Values{"user": {adminUser}, "password": {adminPass}})
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("login after 3 failures = %d, want 429", a.status)
	}
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After = %q, want 1..60 seconds", a.header.Get("Retry-After"))
	}
	if !strings.Contains(a.body, `role="alert"`) || !strings.Contains(a.body, `name="password"`) {
		t.Error("the refusal is not a login page with the error")
	}

	// Guessing the current password on the password page counts too.
	s := e.browser(t)
	s.login(readerUser, readerPass)
	s.get("/ui/password")
	var last answer
	for range 4 {
		last = s.post("/ui/password", url.Values{"current": {"guess"}, "password": {"new-password-123"}, "confirm": {"new-password-123"}})
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("fourth wrong current password = %d, want 429", last.status)
	}
}
