package harness

import (
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// CountingProxy is a reverse proxy on 127.0.0.1 that forwards everything
// to a target and counts requests by "METHOD PATH" (no query). Put it in
// front of an Upstream and give breakwater its URL to count what reaches
// the upstream. Stop and Start it with the upstream to make the upstream
// unreachable, not merely failing. Safe for concurrent use.
type CountingProxy struct {
	// URL is http://127.0.0.1:PORT; Host is 127.0.0.1:PORT.
	URL, Host string

	handler http.Handler

	mu     sync.Mutex
	counts map[string]int
	srv    *http.Server // nil while stopped
}

// StartCountingProxy forwards to target (e.g. Upstream.URL); closed by
// t.Cleanup. Host headers are rewritten to the target's so a registry that
// builds absolute URLs (token realm, upload locations) stays consistent.
func StartCountingProxy(t testing.TB, target string) *CountingProxy {
	t.Helper()
	to, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse proxy target %q: %v", target, err)
	}
	p := &CountingProxy{counts: map[string]int{}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(to)
			r.Out.Host = to.Host
		},
	}
	p.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method+" "+r.URL.Path]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	p.Host = HostPort(FreePort(t))
	p.URL = "http://" + p.Host
	p.Start(t)
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Stop closes the listener and all connections, so callers get
// "connection refused" as from a stopped upstream (the proxy would answer
// 502 instead). Counters stay.
func (p *CountingProxy) Stop(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start listens again on the same address.
func (p *CountingProxy) Start(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", p.Host)
	if err != nil {
		t.Fatalf("start counting proxy on %s: %v", p.Host, err)
	}
	srv := &http.Server{Handler: p.handler}
	p.mu.Lock()
	if p.srv != nil {
		p.mu.Unlock()
		l.Close()
		t.Fatalf("start counting proxy on %s: already running", p.Host)
	}
	p.srv = srv
	p.mu.Unlock()
	go srv.Serve(l)
}

// Count is the number of requests seen for method and path, e.g.
// Count("GET", "/v2/library/debian/blobs/sha256:...").
func (p *CountingProxy) Count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method+" "+path]
}

// Counts returns a copy of all counters keyed by "METHOD PATH".
func (p *CountingProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Reset sets all counters to zero.
func (p *CountingProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.counts)
}

var blobPath = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)

// BlobGETs returns, per blob digest, how many GET requests reached the
// target for the given repository ("" for any repository).
func (p *CountingProxy) BlobGETs(repo string) map[string]int {
	out := map[string]int{}
	for key, n := range p.Counts() {
		method, path, _ := strings.Cut(key, " ")
		m := blobPath.FindStringSubmatch(path)
		if method != http.MethodGet || m == nil || (repo != "" && m[1] != repo) {
			continue
		}
		out[m[2]] += n
	}
	return out
}

// String lists the counters sorted, for failure messages.
func (p *CountingProxy) String() string {
	counts := p.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(" = ")
		b.WriteString(strconv.Itoa(counts[k]))
		b.WriteString("\n")
	}
	return b.String()
}
