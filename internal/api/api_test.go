package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"

	"breakwater/internal/admin"
	"breakwater/internal/api"
	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/inventory"
	"breakwater/internal/policy"
	"breakwater/internal/server"
	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
)

const (
	adminUser, adminPass   = "alice", "alice-password-123"
	readerUser, readerPass = "bob", "bob-password-123"
)

// The images of the fixture: evil is quarantined in docker.io, app is
// served from ghcr.io and old is quarantined in docker.io too.
var (
	evilDigest = digest.FromString("evil image")
	appDigest  = digest.FromString("app image")
	oldDigest  = digest.FromString("old image")
)

// env is the API over real stores in a temporary directory: SQLite
// metadata, a blob store, a firewall without inspection, access control
// and the facade, with two users, three quarantine records, two judged
// images carrying CVE-2024-0002, pulls of them and two upstreams.
type env struct {
	url  string
	meta *sqlite.Meta
	auth *auth.Service
	fw   *firewall.Firewall
	now  time.Time
	// token and readerToken are alice's and bob's API tokens: Basic with
	// a password costs a bcrypt hash per request.
	token, readerToken string

	evilID, oldID, appID string
}

// upstreams is what the fixture's facade reports: docker.io healthy
// with its rate limit, ghcr.io held down after a failure.
func upstreams(now time.Time) []admin.UpstreamStatus {
	return []admin.UpstreamStatus{
		{Name: "docker.io", URL: "https://registry-1.docker.io", Default: true, Healthy: true,
			RateLimit: &admin.RateLimit{Limit: 100, Remaining: 42, WindowSeconds: 21600}},
		{Name: "ghcr.io", URL: "https://ghcr.io", Healthy: false, DownUntil: now.Add(30 * time.Second),
			LastError: "GET https://ghcr.io/v2/: connection refused", LastErrorAt: now.Add(-time.Second)},
	}
}

// newEnv builds the fixture; firewallOn false leaves the facade without a
// firewall, as with --firewall off.
func newEnv(t *testing.T, firewallOn bool) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	blobs, err := fs.New(filepath.Join(dir, "blobs"), fs.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	c := config.Default()
	c.Data = dir
	a, err := auth.New(auth.Options{Store: meta, LoginLimit: 3, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{meta: meta, auth: a, now: time.Now().UTC().Truncate(time.Second)}
	opts := admin.Options{
		Auth: a, Meta: meta, Records: meta, Stats: meta, Config: c,
		Upstreams: func() []admin.UpstreamStatus { return upstreams(e.now) },
	}
	if firewallOn {
		e.fw, err = firewall.New(firewall.Options{Meta: meta, Store: meta, Blobs: blobs, Policies: c.Policies})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.fw.Close() })
		opts.Firewall = e.fw
	}
	ts := httptest.NewServer(api.New(api.Options{Admin: admin.New(opts), Auth: a}))
	t.Cleanup(ts.Close)
	e.url = ts.URL

	if err := a.AddUser(ctx, adminUser, auth.RoleAdmin, adminPass); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, readerUser, auth.RoleReader, readerPass); err != nil {
		t.Fatal(err)
	}
	if e.token, _, err = a.CreateToken(ctx, adminUser, "ci", 0); err != nil {
		t.Fatal(err)
	}
	if e.readerToken, _, err = a.CreateToken(ctx, readerUser, "cli", 0); err != nil {
		t.Fatal(err)
	}

	for _, tg := range []store.Tag{
		{Repo: "docker.io/library/evil", Name: "1", Digest: evilDigest},
		{Repo: "docker.io/library/old", Name: "1", Digest: oldDigest},
		{Repo: "ghcr.io/org/app", Name: "1", Digest: appDigest},
		{Repo: "ghcr.io/org/app", Name: "2", Digest: appDigest},
		{Repo: "quay.io/gone/thing", Name: "latest", Digest: digest.FromString("gone")},
	} {
		tg.MediaType, tg.Size, tg.CheckedAt = "application/vnd.oci.image.manifest.v1+json", 100, e.now
		if err := meta.PutTag(ctx, tg); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []store.Verdict{
		{Repo: "docker.io/library/evil", Digest: evilDigest, Result: "quarantine", Vulns: []string{"CVE-2024-0002", "GHSA-aaaa-bbbb-cccc"}, JudgedAt: e.now},
		{Repo: "ghcr.io/org/app", Digest: appDigest, Result: "allow", Vulns: []string{"CVE-2024-0002"}, JudgedAt: e.now},
		{Repo: "docker.io/library/old", Digest: oldDigest, Result: "quarantine", Vulns: []string{"CVE-2019-0001"}, JudgedAt: e.now},
	} {
		if err := meta.PutVerdict(ctx, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	put := func(q store.Quarantine) string {
		ev, err := json.Marshal(firewall.Evidence{
			Verdict:  policy.Verdict{Result: policy.ResultQuarantine, Reason: q.Policies[0]},
			Findings: []inventory.Finding{{ID: "CVE-2024-0002", Score: q.MaxScore, Scored: true, Severity: q.Severity}},
		})
		if err != nil {
			t.Fatal(err)
		}
		q.Evidence = ev
		q.Upstream, _, _ = strings.Cut(q.Repo, "/")
		id, err := meta.PutQuarantine(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	e.evilID = put(store.Quarantine{ID: "q000000000001", Repo: "docker.io/library/evil", Tag: "1", Digest: evilDigest,
		RequestedAt: e.now.Add(-time.Hour), RequestedBy: readerUser, Policies: []string{"malware"}, Severity: "critical", MaxScore: 9.8})
	e.oldID = put(store.Quarantine{ID: "q000000000002", Repo: "docker.io/library/old", Tag: "1", Digest: oldDigest,
		RequestedAt: e.now.Add(-48 * time.Hour), RequestedBy: readerUser, Policies: []string{"too-old"}, Severity: "low", MaxScore: 3.1})
	e.appID = put(store.Quarantine{ID: "q000000000003", Repo: "ghcr.io/org/app", Tag: "1", Digest: appDigest,
		RequestedAt: e.now.Add(-2 * time.Hour), RequestedBy: readerUser, Policies: []string{"cvss-8", "fixable"}, Severity: "high", MaxScore: 7.5})

	if err := meta.AppendAudits(ctx, []store.AuditEntry{
		{At: e.now.Add(-3 * time.Hour), Actor: readerUser, Action: "pull", Repo: "ghcr.io/org/app", Digest: appDigest, Client: "10.0.0.1", Result: "allow"},
		{At: e.now.Add(-90 * time.Minute), Actor: readerUser, Action: "pull", Repo: "ghcr.io/org/app", Digest: appDigest, Client: "10.0.0.1", Result: "allow"},
		{At: e.now.Add(-80 * time.Minute), Actor: "carol", Action: "pull", Repo: "ghcr.io/org/app", Digest: appDigest, Client: "10.0.0.2", Result: "allow"},
		{At: e.now.Add(-time.Hour), Actor: readerUser, Action: "pull-denied", Repo: "docker.io/library/evil", Digest: evilDigest, Client: "10.0.0.1", Result: "quarantine"},
		{At: e.now.Add(-30 * time.Minute), Actor: adminUser, Action: "noted", Repo: "docker.io/library/evil", Digest: evilDigest, Details: "text=looking"},
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// answer is an HTTP answer read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// creds sets a request's credentials.
type creds func(*http.Request)

func basic(user, secret string) creds { return func(r *http.Request) { r.SetBasicAuth(user, secret) } }

func bearer(token string) creds {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func none(*http.Request) {}

func (e *env) admin() creds  { return basic(adminUser, e.token) }
func (e *env) reader() creds { return basic(readerUser, e.readerToken) }

// call sends body (nil for none) as JSON with the given credentials and
// extra header pairs; an empty value removes the header.
func (e *env) call(t *testing.T, c creds, method, path string, body any, header ...string) answer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	c(req)
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok calls and requires status want, decoding the answer into out.
func (e *env) ok(t *testing.T, c creds, method, path string, body any, want int, out any) {
	t.Helper()
	a := e.call(t, c, method, path, body)
	if a.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, want, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, a.body, err)
		}
	}
}

// wantError requires an error answer with status and code whose message
// contains every one of msgs.
func wantError(t *testing.T, what string, a answer, status int, code string, msgs ...string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: status %d, want %d: %s", what, a.status, status, a.body)
		return
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var b struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(a.body, &b); err != nil {
		t.Errorf("%s: error body is not JSON: %s", what, a.body)
		return
	}
	if b.Error.Code != code || b.Error.Message == "" {
		t.Errorf("%s: error %+v, want code %s with a message", what, b.Error, code)
	}
	for _, m := range msgs {
		if !strings.Contains(b.Error.Message, m) {
			t.Errorf("%s: message %q does not say %q", what, b.Error.Message, m)
		}
	}
}

// TestAuthentication: reads take a session cookie, a Bearer token, Basic
// with a token or a password; changes with the cookie need the CSRF
// header; admins alone change policies; failed logins are limited.
func TestAuthentication(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()

	a := e.call(t, none, "GET", "/api/v1/policies", nil)
	wantError(t, "no credentials", a, http.StatusUnauthorized, "UNAUTHORIZED")
	if a.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	if a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", a.header.Get("Cache-Control"))
	}
	wantError(t, "a made-up bearer token", e.call(t, bearer("bw_nope_nope"), "GET", "/api/v1/me", nil), http.StatusUnauthorized, "UNAUTHORIZED")

	for name, c := range map[string]creds{
		"bearer token":   bearer(e.token),
		"basic token":    basic(adminUser, e.token),
		"basic password": basic(adminUser, adminPass),
	} {
		var me struct{ User, Role, Via string }
		e.ok(t, c, "GET", "/api/v1/me", nil, http.StatusOK, &me)
		if me.User != adminUser || me.Role != "admin" {
			t.Errorf("%s: me = %+v, want alice the admin", name, me)
		}
	}

	// A reader reads the policies but may not change them.
	e.ok(t, basic(readerUser, readerPass), "GET", "/api/v1/policies", nil, http.StatusOK, nil)
	set := map[string]any{"policies": []any{}}
	wantError(t, "reader PUT policies", e.call(t, e.reader(), "PUT", "/api/v1/policies", set), http.StatusForbidden, "FORBIDDEN")

	// A session: reads with the cookie alone, changes with the CSRF token.
	cookie, err := e.auth.Login(ctx, adminUser, adminPass, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := e.auth.Session(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	session := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie}) }
	var me struct {
		CSRFToken string `json:"csrf_token"`
	}
	e.ok(t, session, "GET", "/api/v1/me", nil, http.StatusOK, &me)
	if me.CSRFToken != sess.CSRF {
		t.Errorf("GET /me by session: csrf_token %q, want the session's", me.CSRFToken)
	}
	e.ok(t, session, "GET", "/api/v1/policies", nil, http.StatusOK, nil)
	wantError(t, "session PUT without CSRF", e.call(t, session, "PUT", "/api/v1/policies", set), http.StatusForbidden, "CSRF")
	wantError(t, "session PUT with a wrong CSRF", e.call(t, session, "PUT", "/api/v1/policies", set, api.CSRFHeader, "wrong"),
		http.StatusForbidden, "CSRF")
	if a := e.call(t, session, "PUT", "/api/v1/policies", set, api.CSRFHeader, sess.CSRF); a.status != http.StatusOK {
		t.Errorf("session PUT with CSRF: status %d: %s", a.status, a.body)
	}

	// The login limit is 3 failures a minute for a client and user.
	for i := range 3 {
		wantError(t, fmt.Sprintf("wrong password %d", i+1), e.call(t, basic(readerUser, "wrong-password-1"), "GET", "/api/v1/me", nil),
			http.StatusUnauthorized, "UNAUTHORIZED")
	}
	a = e.call(t, basic(readerUser, readerPass), "GET", "/api/v1/me", nil)
	wantError(t, "past the login limit", a, http.StatusTooManyRequests, "TOO_MANY_REQUESTS")
	if a.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestOwnPasswordEndsOwnSession: changing one's own password with the
// session cookie ends that session too, as docs/api.md says; API tokens
// keep working.
func TestOwnPasswordEndsOwnSession(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	cookie, err := e.auth.Login(ctx, adminUser, adminPass, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, sess, err := e.auth.Session(ctx, cookie)
	if err != nil {
		t.Fatal(err)
	}
	session := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie}) }
	body := map[string]any{"password": "a-new-admin-password", "current_password": adminPass}
	if a := e.call(t, session, "PUT", "/api/v1/users/"+adminUser+"/password", body, api.CSRFHeader, sess.CSRF); a.status != http.StatusNoContent {
		t.Fatalf("own password by session: %d %s", a.status, a.body)
	}
	wantError(t, "the session it was changed in", e.call(t, session, "GET", "/api/v1/me", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	e.ok(t, e.admin(), "GET", "/api/v1/me", nil, http.StatusOK, nil)
}

// policyJSON is a policy as the API writes it.
type policyJSON struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Conditions  map[string]any `json:"conditions"`
	Action      string         `json:"action"`
}

func names(ps []policyJSON) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// TestPolicies: GET answers the configuration's policies until PUT
// replaces them; the change is audited under the admin's name, and an
// answer can be sent back as it is.
func TestPolicies(t *testing.T) {
	e := newEnv(t, true)
	var got struct{ Policies []policyJSON }
	e.ok(t, e.reader(), "GET", "/api/v1/policies", nil, http.StatusOK, &got)
	if want := []string{"malware", "cvss-8", "fixable"}; !slices.Equal(names(got.Policies), want) {
		t.Fatalf("policies %v, want the default %v", names(got.Policies), want)
	}

	set := map[string]any{"policies": []map[string]any{
		{"name": "no-malware", "description": "malware never", "conditions": map[string]any{"malware": true}, "action": "fail"},
		{"name": "critical", "conditions": map[string]any{"severity": "critical", "except_repositories": []string{"ghcr.io/**"}}, "action": "warn"},
	}}
	var put struct{ Policies []policyJSON }
	e.ok(t, e.admin(), "PUT", "/api/v1/policies", set, http.StatusOK, &put)
	if want := []string{"no-malware", "critical"}; !slices.Equal(names(put.Policies), want) {
		t.Errorf("PUT answered %v, want %v", names(put.Policies), want)
	}
	e.ok(t, e.reader(), "GET", "/api/v1/policies", nil, http.StatusOK, &got)
	if want := []string{"no-malware", "critical"}; !slices.Equal(names(got.Policies), want) {
		t.Fatalf("after PUT, GET answers %v, want %v", names(got.Policies), want)
	}
	p := got.Policies[1]
	if p.Action != "warn" || p.Conditions["severity"] != "critical" || fmt.Sprint(p.Conditions["except_repositories"]) != "[ghcr.io/**]" {
		t.Errorf("policy kept as %+v", p)
	}
	if e.fw.Policies()[0].Name != "no-malware" {
		t.Errorf("the firewall applies %v, not the new policies", e.fw.Policies())
	}

	var audit struct {
		Items []struct{ Actor, Action, Details string }
	}
	e.ok(t, e.reader(), "GET", "/api/v1/audit?action=policies-updated", nil, http.StatusOK, &audit)
	if len(audit.Items) != 1 || audit.Items[0].Actor != adminUser || !strings.Contains(audit.Items[0].Details, "no-malware,critical") {
		t.Errorf("audit of the change: %+v, want one policies-updated entry by alice naming the policies", audit.Items)
	}

	// GET's answer goes back unchanged.
	a := e.call(t, e.reader(), "GET", "/api/v1/policies", nil)
	e.ok(t, e.admin(), "PUT", "/api/v1/policies", string(a.body), http.StatusOK, nil)

	// An empty list is allowed: no policy fires.
	e.ok(t, e.admin(), "PUT", "/api/v1/policies", `{"policies": []}`, http.StatusOK, &got)
	if len(got.Policies) != 0 || e.fw.Policies() == nil || len(e.fw.Policies()) != 0 {
		t.Errorf("after PUT [], policies %v and the firewall's %v, want none", got.Policies, e.fw.Policies())
	}

	// DELETE returns to the configuration's, for admins only.
	wantError(t, "reader resets policies", e.call(t, e.reader(), "DELETE", "/api/v1/policies", nil), http.StatusForbidden, "FORBIDDEN")
	e.ok(t, e.admin(), "DELETE", "/api/v1/policies", nil, http.StatusOK, &got)
	if want := []string{"malware", "cvss-8", "fixable"}; !slices.Equal(names(got.Policies), want) || len(e.fw.Policies()) != 3 {
		t.Errorf("after DELETE: %v and the firewall's %v, want the configuration's %v", names(got.Policies), e.fw.Policies(), want)
	}
	e.ok(t, e.reader(), "GET", "/api/v1/audit?action=policies-reset", nil, http.StatusOK, &audit)
	if len(audit.Items) != 1 || audit.Items[0].Actor != adminUser {
		t.Errorf("audit of the reset: %+v, want one policies-reset entry by alice", audit.Items)
	}
}

// TestPoliciesRefused: bad policies, bodies and content types are 4xx
// with a message that says what is wrong, and change nothing.
func TestPoliciesRefused(t *testing.T) {
	e := newEnv(t, true)
	cases := []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
		msgs   []string
	}{
		{"bad action and name", `{"policies":[{"name":"Bad Name","conditions":{"malware":true},"action":"block"}]}`, "",
			400, "INVALID", []string{"policies[0].name", "policies[0].action", "block", ";"}},
		{"score out of range", `{"policies":[{"name":"a","conditions":{"min_score":11},"action":"fail"}]}`, "",
			400, "INVALID", []string{"policies[0].conditions.min_score"}},
		{"no condition", `{"policies":[{"name":"a","conditions":{},"action":"fail"}]}`, "",
			400, "INVALID", []string{"at least one condition"}},
		{"unknown severity", `{"policies":[{"name":"a","conditions":{"severity":"severe"},"action":"fail"}]}`, "",
			400, "INVALID", []string{"severity"}},
		{"duplicate names", `{"policies":[{"name":"a","conditions":{"malware":true},"action":"fail"},{"name":"a","conditions":{"fixable":true},"action":"warn"}]}`, "",
			400, "INVALID", []string{"policies[1].name", "already used"}},
		{"unknown condition", `{"policies":[{"name":"a","conditions":{"malwar":true},"action":"fail"}]}`, "",
			400, "INVALID", []string{"malwar"}},
		{"wrong type", `{"policies":[{"name":"a","conditions":{"min_score":"high"},"action":"fail"}]}`, "",
			400, "INVALID", []string{"min_score"}},
		{"no policies key", `{}`, "", 400, "INVALID", []string{"policies"}},
		{"null policies", `{"policies":null}`, "", 400, "INVALID", []string{"policies"}},
		{"a bare list", `[]`, "", 400, "INVALID", nil},
		{"empty body", ``, "", 400, "INVALID", []string{"body is required"}},
		{"not JSON", `policies: []`, "", 400, "INVALID", []string{"malformed"}},
		{"two values", `{"policies":[]}{"policies":[]}`, "", 400, "INVALID", []string{"more than one"}},
		{"form content type", `{"policies":[]}`, "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE", []string{"application/json"}},
		{"text content type", `{"policies":[]}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", nil},
		{"bad content type", `{"policies":[]}`, "application/json; ===", 415, "UNSUPPORTED_MEDIA_TYPE", nil},
		{"oversize", `{"policies":[],"x":"` + strings.Repeat("a", 1<<20) + `"}`, "", 413, "TOO_LARGE", nil},
	}
	for _, c := range cases {
		var hdr []string
		if c.ctype != "" {
			hdr = []string{"Content-Type", c.ctype}
		}
		wantError(t, c.name, e.call(t, e.admin(), "PUT", "/api/v1/policies", c.body, hdr...), c.status, c.code, c.msgs...)
	}
	// JSON with a charset, or without a Content-Type, is fine.
	for _, ct := range []string{"application/json; charset=utf-8", ""} {
		if a := e.call(t, e.admin(), "PUT", "/api/v1/policies", `{"policies":[]}`, "Content-Type", ct); a.status != 200 {
			t.Errorf("Content-Type %q: status %d: %s", ct, a.status, a.body)
		}
	}

	var audit struct{ Items []any }
	e.ok(t, e.admin(), "GET", "/api/v1/audit?action=policies-updated", nil, http.StatusOK, &audit)
	if len(audit.Items) != 2 {
		t.Errorf("%d policy changes audited, want the two valid PUTs", len(audit.Items))
	}
}

// TestPoliciesFirewallOff: without a firewall the configuration's
// policies are shown and a change is a conflict, not a failure.
func TestPoliciesFirewallOff(t *testing.T) {
	e := newEnv(t, false)
	var got struct{ Policies []policyJSON }
	e.ok(t, e.reader(), "GET", "/api/v1/policies", nil, http.StatusOK, &got)
	if len(got.Policies) != 3 {
		t.Errorf("policies %v, want the configuration's three", names(got.Policies))
	}
	wantError(t, "PUT with the firewall off", e.call(t, e.admin(), "PUT", "/api/v1/policies", `{"policies":[]}`),
		http.StatusConflict, "UNAVAILABLE", "firewall is off")
	var page struct{ Items []any }
	e.ok(t, e.reader(), "GET", "/api/v1/quarantine", nil, http.StatusOK, &page)
	if len(page.Items) != 0 {
		t.Errorf("with the firewall off, %d quarantine records listed", len(page.Items))
	}
}

// TestUpstreamsAndRepositories: the upstreams as the facade reports them,
// and each repository with its upstream and that upstream's health.
func TestUpstreamsAndRepositories(t *testing.T) {
	e := newEnv(t, true)
	var ups []map[string]any
	e.ok(t, e.reader(), "GET", "/api/v1/upstreams", nil, http.StatusOK, &ups)
	if len(ups) != 2 {
		t.Fatalf("upstreams: %v, want docker.io and ghcr.io", ups)
	}
	hub, gh := ups[0], ups[1]
	if hub["name"] != "docker.io" || hub["default"] != true || hub["healthy"] != true || hub["url"] != "https://registry-1.docker.io" {
		t.Errorf("docker.io: %v", hub)
	}
	if rl, _ := hub["rate_limit"].(map[string]any); rl["limit"] != 100.0 || rl["remaining"] != 42.0 || rl["window_seconds"] != 21600.0 {
		t.Errorf("docker.io rate limit: %v, want 42 of 100 per 21600s", hub["rate_limit"])
	}
	if hub["last_error"] != nil || hub["down_until"] != nil {
		t.Errorf("healthy docker.io shows a failure: %v", hub)
	}
	if gh["name"] != "ghcr.io" || gh["healthy"] != false || gh["default"] != false ||
		!strings.Contains(fmt.Sprint(gh["last_error"]), "connection refused") || gh["last_error_at"] == nil || gh["down_until"] == nil {
		t.Errorf("ghcr.io: %v, want unhealthy with its last error", gh)
	}
	if _, ok := gh["rate_limit"]; ok {
		t.Errorf("ghcr.io said nothing of a rate limit, yet shows %v", gh["rate_limit"])
	}

	var repos []struct {
		Name            string
		Upstream        string
		Tags            int
		Verdicts        map[string]int
		UpstreamHealthy *bool `json:"upstream_healthy"`
	}
	e.ok(t, e.reader(), "GET", "/api/v1/repositories", nil, http.StatusOK, &repos)
	type row struct {
		up      string
		tags    int
		healthy string
	}
	got := map[string]row{}
	for _, r := range repos {
		h := "unknown"
		if r.UpstreamHealthy != nil {
			h = fmt.Sprint(*r.UpstreamHealthy)
		}
		got[r.Name] = row{r.Upstream, r.Tags, h}
	}
	want := map[string]row{
		"docker.io/library/evil": {"docker.io", 1, "true"},
		"docker.io/library/old":  {"docker.io", 1, "true"},
		"ghcr.io/org/app":        {"ghcr.io", 2, "false"},
		"quay.io/gone/thing":     {"quay.io", 1, "unknown"},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("repository %s: %+v, want %+v", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("repositories %v, want %d", got, len(want))
	}
	for _, r := range repos {
		if r.Name == "docker.io/library/evil" && r.Verdicts["quarantine"] != 1 {
			t.Errorf("evil's verdicts %v, want one quarantine", r.Verdicts)
		}
	}
}

type recordJSON struct {
	ID       string
	Repo     string `json:"repository"`
	Policies []string
	Severity string
	Released bool
	Notes    []struct{ By, Text string }
}

type quarantinePage struct {
	Items                []recordJSON
	Total, Offset, Limit int
}

func ids(rs []recordJSON) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// TestQuarantineFilters: each filter of the list, the order and the
// pages.
func TestQuarantineFilters(t *testing.T) {
	e := newEnv(t, true)
	since := url.QueryEscape(e.now.Add(-3 * time.Hour).Format(time.RFC3339))
	until := url.QueryEscape(e.now.Add(-90 * time.Minute).Format(time.RFC3339))
	cases := []struct {
		query string
		want  []string
		total int
	}{
		{"", []string{e.evilID, e.appID, e.oldID}, 3},
		{"?sort=oldest", []string{e.oldID, e.appID, e.evilID}, 3},
		{"?sort=score", []string{e.evilID, e.appID, e.oldID}, 3},
		{"?sort=repo", []string{e.evilID, e.oldID, e.appID}, 3},
		{"?repository=ghcr.io/org/app", []string{e.appID}, 1},
		{"?policy=fixable", []string{e.appID}, 1},
		{"?policy=nothing", []string{}, 0},
		{"?severity=high", []string{e.evilID, e.appID}, 2},
		{"?severity=HIGH", []string{e.evilID, e.appID}, 2},
		{"?severity=low&sort=oldest", []string{e.oldID, e.appID, e.evilID}, 3},
		{"?since=" + since, []string{e.evilID, e.appID}, 2},
		{"?since=" + since + "&until=" + until, []string{e.appID}, 1},
		{"?limit=1", []string{e.evilID}, 3},
		{"?limit=1&offset=1", []string{e.appID}, 3},
		{"?limit=2&offset=2", []string{e.oldID}, 3},
		{"?offset=5", []string{}, 3},
	}
	for _, c := range cases {
		var page quarantinePage
		e.ok(t, e.reader(), "GET", "/api/v1/quarantine"+c.query, nil, http.StatusOK, &page)
		if !slices.Equal(ids(page.Items), c.want) || page.Total != c.total {
			t.Errorf("quarantine%s: %v of %d, want %v of %d", c.query, ids(page.Items), page.Total, c.want, c.total)
		}
	}
	var page quarantinePage
	e.ok(t, e.reader(), "GET", "/api/v1/quarantine?offset=1", nil, http.StatusOK, &page)
	if page.Offset != 1 || page.Limit != admin.DefaultLimit {
		t.Errorf("page offset %d limit %d, want 1 and %d", page.Offset, page.Limit, admin.DefaultLimit)
	}

	var rec recordJSON
	e.ok(t, e.reader(), "GET", "/api/v1/quarantine/"+e.appID, nil, http.StatusOK, &rec)
	if rec.ID != e.appID || rec.Repo != "ghcr.io/org/app" || !slices.Equal(rec.Policies, []string{"cvss-8", "fixable"}) || rec.Severity != "high" {
		t.Errorf("record %s: %+v", e.appID, rec)
	}
	e.ok(t, e.reader(), "GET", "/api/v1/quarantine/"+evilDigest.String(), nil, http.StatusOK, &rec)
	if rec.ID != e.evilID {
		t.Errorf("record by digest: %s, want %s", rec.ID, e.evilID)
	}
}

// TestQuarantineActions: release, notes and deletion by an admin, each
// in the audit log; readers are refused.
func TestQuarantineActions(t *testing.T) {
	e := newEnv(t, true)
	reason := map[string]string{"reason": "checked by security"}
	for _, path := range []string{
		"/api/v1/quarantine/" + e.evilID + "/release",
		"/api/v1/quarantine/" + e.evilID + "/notes",
		"/api/v1/quarantine/" + e.evilID + "/delete",
	} {
		wantError(t, "reader POST "+path, e.call(t, e.reader(), "POST", path, reason), http.StatusForbidden, "FORBIDDEN")
	}
	wantError(t, "reader DELETE", e.call(t, e.reader(), "DELETE", "/api/v1/quarantine/"+e.evilID, reason), http.StatusForbidden, "FORBIDDEN")

	wantError(t, "release without a reason", e.call(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/release", `{}`),
		http.StatusBadRequest, "INVALID", "reason")
	wantError(t, "release with blank reason", e.call(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/release", `{"reason":"  "}`),
		http.StatusBadRequest, "INVALID", "reason")
	wantError(t, "release with an unknown field", e.call(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/release", `{"reason":"x","expires":"never"}`),
		http.StatusBadRequest, "INVALID", "expires")
	wantError(t, "release of an unknown record", e.call(t, e.admin(), "POST", "/api/v1/quarantine/q999/release", reason),
		http.StatusNotFound, "NOT_FOUND")

	var rec recordJSON
	e.ok(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/release", reason, http.StatusOK, &rec)
	if !rec.Released {
		t.Errorf("released record: %+v, want released", rec)
	}
	e.ok(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/notes", map[string]string{"text": "asked upstream"}, http.StatusCreated, &rec)
	if n := len(rec.Notes); n != 1 || rec.Notes[0].By != adminUser || rec.Notes[0].Text != "asked upstream" {
		t.Errorf("notes %+v, want alice's note", rec.Notes)
	}
	wantError(t, "empty note", e.call(t, e.admin(), "POST", "/api/v1/quarantine/"+e.evilID+"/notes", `{"text":""}`),
		http.StatusBadRequest, "INVALID", "note")

	if a := e.call(t, e.admin(), "DELETE", "/api/v1/quarantine/"+e.oldID, reason); a.status != http.StatusNoContent {
		t.Errorf("DELETE: status %d: %s", a.status, a.body)
	}
	wantError(t, "GET after DELETE", e.call(t, e.reader(), "GET", "/api/v1/quarantine/"+e.oldID, nil), http.StatusNotFound, "NOT_FOUND")
	if a := e.call(t, e.admin(), "POST", "/api/v1/quarantine/"+e.appID+"/delete", reason); a.status != http.StatusNoContent {
		t.Errorf("POST delete: status %d: %s", a.status, a.body)
	}
	wantError(t, "DELETE again", e.call(t, e.admin(), "DELETE", "/api/v1/quarantine/"+e.appID, reason), http.StatusNotFound, "NOT_FOUND")

	var audit struct {
		Items []struct{ Actor, Action, Repo string }
	}
	e.ok(t, e.reader(), "GET", "/api/v1/audit?user=alice", nil, http.StatusOK, &audit)
	var acts []string
	for _, it := range audit.Items {
		acts = append(acts, it.Action)
	}
	for _, want := range []string{"released", "deleted"} {
		if !slices.Contains(acts, want) {
			t.Errorf("alice's audit entries %v lack %s", acts, want)
		}
	}
}

type auditItem struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Repo   string `json:"repository"`
	Digest string
	Client string
	Result string
}

type auditPage struct {
	Items []auditItem
	Next  int64
}

// TestAuditFilters: the audit log by user, repository, digest, action and
// time, with pull entries carrying their client and result, and paged.
func TestAuditFilters(t *testing.T) {
	e := newEnv(t, true)
	at := func(d time.Duration) string { return url.QueryEscape(e.now.Add(d).Format(time.RFC3339)) }
	cases := []struct {
		query string
		want  []string // actor/action of each entry, newest first
	}{
		{"", []string{"alice/noted", "bob/pull-denied", "carol/pull", "bob/pull", "bob/pull"}},
		{"?user=bob", []string{"bob/pull-denied", "bob/pull", "bob/pull"}},
		{"?user=nobody", []string{}},
		{"?client=10.0.0.2", []string{"carol/pull"}},
		{"?client=10.0.0.1&action=pull", []string{"bob/pull", "bob/pull"}},
		{"?repository=ghcr.io/org/app", []string{"carol/pull", "bob/pull", "bob/pull"}},
		{"?digest=" + evilDigest.String(), []string{"alice/noted", "bob/pull-denied"}},
		{"?action=pull", []string{"carol/pull", "bob/pull", "bob/pull"}},
		{"?user=bob&action=pull&repository=ghcr.io/org/app", []string{"bob/pull", "bob/pull"}},
		{"?since=" + at(-100*time.Minute), []string{"alice/noted", "bob/pull-denied", "carol/pull", "bob/pull"}},
		{"?until=" + at(-90*time.Minute), []string{"bob/pull"}},
		{"?since=" + at(-2*time.Hour) + "&until=" + at(-time.Hour), []string{"carol/pull", "bob/pull"}},
	}
	for _, c := range cases {
		var page auditPage
		e.ok(t, e.reader(), "GET", "/api/v1/audit"+c.query, nil, http.StatusOK, &page)
		got := []string{}
		for _, it := range page.Items {
			got = append(got, it.Actor+"/"+it.Action)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("audit%s: %v, want %v", c.query, got, c.want)
		}
		if page.Next != 0 {
			t.Errorf("audit%s: next %d on the only page", c.query, page.Next)
		}
	}

	var page auditPage
	e.ok(t, e.reader(), "GET", "/api/v1/audit?action=pull-denied", nil, http.StatusOK, &page)
	// Times come in the forms the CLI and dashboard take.
	for _, since := range []string{"24h", "7d", "2020-01-01", url.QueryEscape("2020-01-01T00:00:00Z")} {
		e.ok(t, e.reader(), "GET", "/api/v1/audit?action=pull-denied&since="+since, nil, http.StatusOK, &page)
		if len(page.Items) == 0 {
			t.Errorf("since=%s: no entries", since)
		}
	}
	wantError(t, "since in no known form", e.call(t, e.reader(), "GET", "/api/v1/audit?since=yesterday", nil),
		http.StatusBadRequest, "INVALID", "duration back from now")
	// An unknown action is a mistake to report, naming the known ones.
	wantError(t, "unknown audit action", e.call(t, e.reader(), "GET", "/api/v1/audit?action=bogus", nil),
		http.StatusBadRequest, "INVALID", `action "bogus" is unknown`, "pull-denied", "user-added", "policies-reset")
	if len(page.Items) != 1 {
		t.Fatalf("pull-denied entries: %+v", page.Items)
	}
	if it := page.Items[0]; it.Repo != "docker.io/library/evil" || it.Digest != evilDigest.String() || it.Client != "10.0.0.1" || it.Result != "quarantine" {
		t.Errorf("pull-denied entry %+v lacks its repository, digest, client or result", it)
	}

	// Pages of two, newest first, each next= the last id of its page.
	var seen []string
	before := int64(0)
	for range 10 {
		q := "/api/v1/audit?limit=2"
		if before != 0 {
			q += fmt.Sprintf("&before=%d", before)
		}
		var p auditPage
		e.ok(t, e.reader(), "GET", q, nil, http.StatusOK, &p)
		for _, it := range p.Items {
			seen = append(seen, it.Actor+"/"+it.Action)
		}
		if p.Next == 0 {
			break
		}
		if len(p.Items) != 2 || p.Next != p.Items[1].ID {
			t.Fatalf("page %s: %d items, next %d", q, len(p.Items), p.Next)
		}
		before = p.Next
	}
	if want := cases[0].want; !slices.Equal(seen, want) {
		t.Errorf("paged: %v, want %v", seen, want)
	}
}

// TestExposure: the images carrying a vulnerability, by id or alias in
// any case, each with who pulled it from where and how often.
func TestExposure(t *testing.T) {
	e := newEnv(t, true)
	type puller struct {
		User, Client  string
		Count, Denied int
		Last          time.Time
	}
	var got []struct {
		Repo    string `json:"repository"`
		Digest  string
		Result  string
		Pullers []puller
	}
	e.ok(t, e.reader(), "GET", "/api/v1/vulnerabilities/cve-2024-0002/images", nil, http.StatusOK, &got)
	if len(got) != 2 {
		t.Fatalf("images with CVE-2024-0002: %+v, want evil and app", got)
	}
	evil, app := got[0], got[1]
	if evil.Repo != "docker.io/library/evil" || evil.Digest != evilDigest.String() || evil.Result != "quarantine" {
		t.Errorf("first image %+v, want docker.io/library/evil quarantined", evil)
	}
	if len(evil.Pullers) != 1 || evil.Pullers[0].User != readerUser || evil.Pullers[0].Denied != 1 || evil.Pullers[0].Count != 0 {
		t.Errorf("evil's pullers %+v, want bob refused once", evil.Pullers)
	}
	if app.Repo != "ghcr.io/org/app" || app.Result != "allow" {
		t.Errorf("second image %+v, want ghcr.io/org/app allowed", app)
	}
	byUser := map[string]puller{}
	for _, p := range app.Pullers {
		byUser[p.User] = p
	}
	if b := byUser[readerUser]; b.Count != 2 || b.Client != "10.0.0.1" || !b.Last.Equal(e.now.Add(-90*time.Minute)) {
		t.Errorf("bob's pulls of app: %+v, want 2 from 10.0.0.1, the last 90 minutes ago", b)
	}
	if c := byUser["carol"]; c.Count != 1 || c.Client != "10.0.0.2" {
		t.Errorf("carol's pulls of app: %+v, want 1 from 10.0.0.2", c)
	}
	if len(app.Pullers) != 2 {
		t.Errorf("app's pullers %+v, want bob and carol", app.Pullers)
	}

	e.ok(t, e.reader(), "GET", "/api/v1/vulnerabilities/GHSA-aaaa-bbbb-cccc/images", nil, http.StatusOK, &got)
	if len(got) != 1 || got[0].Repo != "docker.io/library/evil" {
		t.Errorf("images with the alias: %+v, want evil", got)
	}
	a := e.call(t, e.reader(), "GET", "/api/v1/vulnerabilities/CVE-2000-0001/images", nil)
	if a.status != http.StatusOK || strings.TrimSpace(string(a.body)) != "[]" {
		t.Errorf("a vulnerability no image carries: %d %s, want []", a.status, a.body)
	}
}

// TestBadInput: malformed ids, query parameters and paths are 4xx with a
// JSON error, never 500.
func TestBadInput(t *testing.T) {
	e := newEnv(t, true)
	long := strings.Repeat("a", 200)
	cases := []struct {
		method, path string
		status       int
		code         string
		msg          string
	}{
		{"GET", "/api/v1/quarantine/a%2Fb", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/a%20b", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/" + long, 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/q-none", 404, "NOT_FOUND", ""},
		{"GET", "/api/v1/quarantine/sha256:zz", 400, "INVALID", "digest"},
		{"GET", "/api/v1/quarantine/sha256:" + strings.Repeat("0", 64), 404, "NOT_FOUND", ""},
		{"GET", "/api/v1/quarantine/a%00b", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/a%1Bb", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/a%C2%85b", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine/a%7Fb", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/vulnerabilities/%20bad/images", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/vulnerabilities/" + long + "/images", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/vulnerabilities/CVE%3Cscript%3E/images", 400, "INVALID", "malformed"},
		{"GET", "/api/v1/quarantine?since=yesterday", 400, "INVALID", "since"},
		{"GET", "/api/v1/quarantine?until=2024-13-01T00:00:00Z", 400, "INVALID", "until"},
		{"GET", "/api/v1/quarantine?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", 400, "INVALID", "until"},
		{"GET", "/api/v1/quarantine?limit=-1", 400, "INVALID", "limit"},
		{"GET", "/api/v1/quarantine?limit=501", 400, "INVALID", "limit"},
		{"GET", "/api/v1/quarantine?limit=ten", 400, "INVALID", "limit"},
		{"GET", "/api/v1/quarantine?offset=-5", 400, "INVALID", "offset"},
		{"GET", "/api/v1/quarantine?offset=99999999999999999999", 400, "INVALID", "offset"},
		{"GET", "/api/v1/quarantine?severity=severe", 400, "INVALID", "severity"},
		{"GET", "/api/v1/quarantine?sort=random", 400, "INVALID", "sort"},
		{"GET", "/api/v1/quarantine?repo=docker.io/library/evil", 400, "INVALID", "repository"},
		{"GET", "/api/v1/quarantine?limit=1&limit=2", 400, "INVALID", "once"},
		{"GET", "/api/v1/quarantine?limit=%zz", 400, "INVALID", "query"},
		{"GET", "/api/v1/audit?since=last-week", 400, "INVALID", "since"},
		{"GET", "/api/v1/audit?since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", 400, "INVALID", "until"},
		{"GET", "/api/v1/audit?digest=sha256:abc", 400, "INVALID", "digest"},
		{"GET", "/api/v1/audit?digest=md5:" + strings.Repeat("0", 32), 400, "INVALID", "digest"},
		{"GET", "/api/v1/audit?before=-1", 400, "INVALID", "before"},
		{"GET", "/api/v1/audit?limit=100000", 400, "INVALID", "limit"},
		{"GET", "/api/v1/audit?actor=bob", 400, "INVALID", "user"},
		{"GET", "/api/v1/stats?since=now", 400, "INVALID", "since"},
		{"GET", "/api/v1/stats?since=2999-01-01T00:00:00Z", 400, "INVALID", "future"},
		{"GET", "/api/v1/stats?since=2000-01-01T00:00:00Z", 400, "INVALID", "days"},
		{"GET", "/api/v1/stats?since=0001-01-01", 400, "INVALID", "days"},
		{"GET", "/api/v1/stats?since=367d", 400, "INVALID", "days"},
		{"GET", "/api/v1/policies?verbose=1", 400, "INVALID", "takes none"},
		{"GET", "/api/v1/upstreams?name=docker.io", 400, "INVALID", "takes none"},
		{"GET", "/api/v1/nothing", 404, "NOT_FOUND", "no such API route"},
		{"GET", "/api/v1/policies/", 404, "NOT_FOUND", ""},
		{"POST", "/api/v1/policies", 405, "METHOD_NOT_ALLOWED", "PUT"},
		{"DELETE", "/api/v1/upstreams", 405, "METHOD_NOT_ALLOWED", "GET"},
		{"DELETE", "/api/v1/users/nobody", 404, "NOT_FOUND", ""},
		{"DELETE", "/api/v1/users/Not%20A%20Name", 404, "NOT_FOUND", ""},
		{"GET", "/api/v1/users/nobody/tokens", 404, "NOT_FOUND", ""},
		{"DELETE", "/api/v1/users/alice/tokens/none", 404, "NOT_FOUND", ""},
	}
	for _, c := range cases {
		wantError(t, c.method+" "+c.path, e.call(t, e.admin(), c.method, c.path, nil), c.status, c.code, c.msg)
	}

	// Bodies of the other changes: content type, size, fields.
	bodies := []struct {
		method, path, body, ctype string
		status                    int
		code                      string
	}{
		{"POST", "/api/v1/quarantine/" + e.evilID + "/release", `reason=x`, "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"POST", "/api/v1/quarantine/" + e.evilID + "/notes", `{"text":` + `"` + strings.Repeat("n", 2<<20) + `"}`, "", 413, "TOO_LARGE"},
		{"POST", "/api/v1/quarantine/" + e.evilID + "/notes", `{"text":"` + strings.Repeat("n", 5000) + `"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/quarantine/" + e.evilID + "/notes", `{"text":"bell\u0007 and NUL\u0000"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/quarantine/" + e.evilID + "/release", `{"reason":"\u001b[31mred"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users", `{"name":"dave","role":"root","password":"a long enough password"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users", `{"name":"Dave!","role":"reader","password":"a long enough password"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users", `{"name":"bob","role":"reader","password":"a long enough password"}`, "", 409, "CONFLICT"},
		{"POST", "/api/v1/users", `{"name":"dave","role":"reader","password":"long enough pass\nword"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users", `{"name":"dave","role":"reader","password":"            "}`, "", 400, "INVALID"},
		{"PUT", "/api/v1/users/bob/password", `{"password":"long enough\u0000password"}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users/alice/tokens", `{"name":"x","ttl_seconds":-1}`, "", 400, "INVALID"},
		{"POST", "/api/v1/users/alice/tokens", `{"name":"ci"}`, "", 409, "CONFLICT"},
		{"POST", "/api/v1/users/alice/tokens", `{"name":"x","ttl_seconds":"1h"}`, "", 400, "INVALID"},
		{"PUT", "/api/v1/users/bob/password", `{"password":"short"}`, "", 400, "INVALID"},
		{"PUT", "/api/v1/users/bob/password", `{"password":"long enough password"}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"},
	}
	for _, b := range bodies {
		var hdr []string
		if b.ctype != "" {
			hdr = []string{"Content-Type", b.ctype}
		}
		wantError(t, b.method+" "+b.path+" "+b.ctype, e.call(t, e.admin(), b.method, b.path, b.body, hdr...), b.status, b.code)
	}
}

// TestAccountsAndStatus: users and tokens, vulnerability data and
// statistics answer, with the rule that readers manage only their own
// tokens.
func TestAccountsAndStatus(t *testing.T) {
	e := newEnv(t, true)
	var users []struct{ Name, Role string }
	e.ok(t, e.admin(), "GET", "/api/v1/users", nil, http.StatusOK, &users)
	if len(users) != 2 {
		t.Errorf("users %+v, want alice and bob", users)
	}
	wantError(t, "reader lists users", e.call(t, e.reader(), "GET", "/api/v1/users", nil), http.StatusForbidden, "FORBIDDEN")

	// Adding a user answers with the user as stored, the time it was
	// created included, the same that listing shows.
	type user struct {
		Name               string
		Role               string
		MustChangePassword bool      `json:"must_change_password"`
		CreatedAt          time.Time `json:"created_at"`
	}
	var added user
	e.ok(t, e.admin(), "POST", "/api/v1/users", map[string]any{"name": "carol", "role": "reader", "password": "carol-password-123"}, http.StatusCreated, &added)
	var listed []user
	e.ok(t, e.admin(), "GET", "/api/v1/users", nil, http.StatusOK, &listed)
	i := slices.IndexFunc(listed, func(u user) bool { return u.Name == "carol" })
	if i < 0 || added != listed[i] || added.Role != "reader" || time.Since(added.CreatedAt) > time.Minute {
		t.Errorf("POST /api/v1/users answered %+v; listed %+v; want the stored user, created now", added, listed)
	}
	if a := e.call(t, e.admin(), "DELETE", "/api/v1/users/carol", nil); a.status != http.StatusNoContent {
		t.Fatalf("delete carol: %d %s", a.status, a.body)
	}

	wantError(t, "reader lists alice's tokens", e.call(t, e.reader(), "GET", "/api/v1/users/alice/tokens", nil), http.StatusForbidden, "FORBIDDEN")

	var created struct {
		Secret string
		Token  struct{ Name, User string }
	}
	e.ok(t, e.reader(), "POST", "/api/v1/users/bob/tokens", map[string]any{"name": "laptop", "ttl_seconds": 3600}, http.StatusCreated, &created)
	if !strings.HasPrefix(created.Secret, "bw_") || created.Token.User != readerUser {
		t.Fatalf("created token %+v", created)
	}
	var me struct{ User, Via string }
	e.ok(t, bearer(created.Secret), "GET", "/api/v1/me", nil, http.StatusOK, &me)
	if me.User != readerUser || me.Via != "token" {
		t.Errorf("me with bob's new token: %+v", me)
	}
	// The token cannot make itself the password: changing one's own
	// takes the current one, and the token is not that.
	tok := bearer(created.Secret)
	wantError(t, "own password without the current", e.call(t, tok, "PUT", "/api/v1/users/bob/password", map[string]any{"password": "taken-over-123"}), http.StatusBadRequest, "INVALID")
	wantError(t, "own password with the token as current", e.call(t, tok, "PUT", "/api/v1/users/bob/password",
		map[string]any{"password": "taken-over-123", "current_password": created.Secret}), http.StatusBadRequest, "INVALID")
	if a := e.call(t, tok, "PUT", "/api/v1/users/bob/password", map[string]any{"password": readerPass, "current_password": readerPass}); a.status != http.StatusNoContent {
		t.Errorf("own password with the current: %d %s", a.status, a.body)
	}
	// An admin resets others' passwords, but its own only as anyone does.
	wantError(t, "admin's own password without the current", e.call(t, e.admin(), "PUT", "/api/v1/users/alice/password", map[string]any{"password": "taken-over-123"}), http.StatusBadRequest, "INVALID")
	if a := e.call(t, e.admin(), "PUT", "/api/v1/users/bob/password", map[string]any{"password": readerPass}); a.status != http.StatusNoContent {
		t.Errorf("admin resets bob's password: %d %s", a.status, a.body)
	}
	if a := e.call(t, e.reader(), "DELETE", "/api/v1/users/bob/tokens/laptop", nil); a.status != http.StatusNoContent {
		t.Errorf("revoke own token: %d %s", a.status, a.body)
	}
	wantError(t, "a revoked token", e.call(t, bearer(created.Secret), "GET", "/api/v1/me", nil), http.StatusUnauthorized, "UNAUTHORIZED")

	// Roles: admins change them, the last admin stays one, and the
	// change holds at the user's next request.
	var u struct{ Name, Role string }
	wantError(t, "reader makes itself admin", e.call(t, e.reader(), "PUT", "/api/v1/users/bob/role", map[string]any{"role": "admin"}), http.StatusForbidden, "FORBIDDEN")
	wantError(t, "a role that does not exist", e.call(t, e.admin(), "PUT", "/api/v1/users/bob/role", map[string]any{"role": "root"}), http.StatusBadRequest, "INVALID")
	wantError(t, "role of nobody", e.call(t, e.admin(), "PUT", "/api/v1/users/nobody/role", map[string]any{"role": "admin"}), http.StatusNotFound, "NOT_FOUND")
	wantError(t, "the last admin made a reader", e.call(t, e.admin(), "PUT", "/api/v1/users/alice/role", map[string]any{"role": "reader"}), http.StatusBadRequest, "INVALID")
	e.ok(t, e.admin(), "PUT", "/api/v1/users/bob/role", map[string]any{"role": "admin"}, http.StatusOK, &u)
	if u.Name != readerUser || u.Role != "admin" {
		t.Errorf("role change answered %+v", u)
	}
	e.ok(t, e.reader(), "GET", "/api/v1/users", nil, http.StatusOK, &users) // bob is an admin now
	e.ok(t, e.reader(), "PUT", "/api/v1/users/bob/role", map[string]any{"role": "reader"}, http.StatusOK, &u)
	wantError(t, "bob lists users once a reader again", e.call(t, e.reader(), "GET", "/api/v1/users", nil), http.StatusForbidden, "FORBIDDEN")
	var roles struct {
		Items []struct{ Actor, Details string }
	}
	e.ok(t, e.admin(), "GET", "/api/v1/audit?action=role-changed", nil, http.StatusOK, &roles)
	if len(roles.Items) != 2 || roles.Items[0].Actor != readerUser || roles.Items[1].Details != "user=bob role=admin" {
		t.Errorf("audit of role changes: %+v", roles.Items)
	}

	var vdb struct {
		Ready   bool
		Sources []any
	}
	e.ok(t, e.reader(), "GET", "/api/v1/vulndb", nil, http.StatusOK, &vdb)
	if vdb.Ready || vdb.Sources == nil {
		t.Errorf("vulndb without data: %+v, want not ready with an empty list", vdb)
	}
	if err := e.meta.AddStats(context.Background(), []store.StatsDelta{{Hour: e.now.Add(-time.Hour), Upstream: "docker.io",
		StatsCounts: store.StatsCounts{Pulls: 4, CacheHits: 3, CacheMisses: 1}}}); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pulls     int64
		HitRate   float64 `json:"hit_rate"`
		Upstreams []struct{ Name string }
	}
	e.ok(t, e.reader(), "GET", "/api/v1/stats?since=366d", nil, http.StatusOK, &st) // the longest period, as documented
	e.ok(t, e.reader(), "GET", "/api/v1/stats?since="+url.QueryEscape(e.now.Add(-2*time.Hour).Format(time.RFC3339)), nil, http.StatusOK, &st)
	if st.Pulls != 4 || st.HitRate != 0.75 || len(st.Upstreams) != 2 {
		t.Errorf("stats %+v, want 4 pulls, hit rate 0.75 and two upstreams", st)
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// TestServerUpstreams: through a built server, a pull from an upstream
// that is down shows in /api/v1/upstreams as that upstream's last error,
// and /api/v1/repositories names the upstream of each repository with its
// health. (The breaker trips only when a cached tag cannot be
// revalidated; the fixture of the other tests covers an unhealthy one.)
func TestServerUpstreams(t *testing.T) {
	ctx := context.Background()
	c := config.Default()
	c.Data = t.TempDir()
	c.Firewall.Firewall = c.Firewall.WithMode(policy.ModeOff)
	c.VulnDB.Feeds, c.VulnDB.LoadAtStart, c.VulnDB.Refresh = nil, false, 0
	c.Upstreams[0].URL = closedURL(t)
	c.Upstreams = append(c.Upstreams, config.Upstream{Name: "ghcr.io", URL: closedURL(t), Timeout: 5 * time.Second})
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
	if err := srv.Auth().AddUser(ctx, readerUser, auth.RoleReader, readerPass); err != nil {
		t.Fatal(err)
	}
	token, _, err := srv.Auth().CreateToken(ctx, readerUser, "cli", 0)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{url: ts.URL}
	as := bearer(token)

	var ups []map[string]any
	e.ok(t, as, "GET", "/api/v1/upstreams", nil, http.StatusOK, &ups)
	if len(ups) != 2 || ups[0]["name"] != "docker.io" || ups[0]["default"] != true || ups[1]["name"] != "ghcr.io" ||
		ups[1]["healthy"] != true || ups[1]["url"] != c.Upstreams[1].URL {
		t.Fatalf("upstreams before a pull: %v", ups)
	}

	// A tag cached earlier, then a pull that finds ghcr.io down.
	meta, err := sqlite.Open(filepath.Join(c.Data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	if err := meta.PutTag(ctx, store.Tag{Repo: "ghcr.io/org/app", Name: "1", Digest: appDigest,
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 100, CheckedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if a := e.call(t, basic(readerUser, token), "GET", "/v2/ghcr.io/org/other/manifests/1", nil); a.status < 400 {
		t.Fatalf("a pull from an upstream that is down: status %d", a.status)
	}

	e.ok(t, as, "GET", "/api/v1/upstreams", nil, http.StatusOK, &ups)
	gh := ups[1]
	if !strings.Contains(fmt.Sprint(gh["last_error"]), "connection refused") || gh["last_error_at"] == nil || gh["healthy"] != false {
		t.Errorf("ghcr.io after a failed pull: %v, want it unhealthy with its last error", gh)
	}
	if ups[0]["last_error"] != nil {
		t.Errorf("docker.io, which was not asked, shows an error: %v", ups[0])
	}
	var repos []struct {
		Name, Upstream  string
		UpstreamHealthy *bool `json:"upstream_healthy"`
	}
	e.ok(t, as, "GET", "/api/v1/repositories", nil, http.StatusOK, &repos)
	if len(repos) != 1 || repos[0].Name != "ghcr.io/org/app" || repos[0].Upstream != "ghcr.io" ||
		repos[0].UpstreamHealthy == nil || *repos[0].UpstreamHealthy != (gh["healthy"] == true) {
		t.Errorf("repositories %+v, want ghcr.io/org/app on ghcr.io with its health", repos)
	}
}
