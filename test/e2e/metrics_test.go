//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
	"breakwater/test/harness"
)

// quotaLimit is the pull quota quotaProxy announces.
const quotaLimit = 100

// quotaProxy stands between breakwater and an upstream on 127.0.0.1. It
// adds the quota headers Docker Hub sends, in the lower case Docker Hub
// writes them, to every manifest answer, counting one down for each
// manifest GET answered 200 as Docker Hub does, and counts the answers by
// status, to hold breakwater's upstream counters to what the upstream saw.
type quotaProxy struct {
	URL string

	mu       sync.Mutex
	statuses map[int]int
	left     int
}

func startQuotaProxy(t *testing.T, target string) *quotaProxy {
	t.Helper()
	to, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse %q: %v", target, err)
	}
	p := &quotaProxy{left: quotaLimit, statuses: map[int]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(to)
		r.Out.Host = to.Host
	}}
	srv := &http.Server{
		Addr: harness.HostPort(harness.FreePort(t)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rp.ServeHTTP(&quotaWriter{ResponseWriter: w, p: p, r: r}, r)
		}),
	}
	l, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Fatalf("quota proxy: %v", err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + srv.Addr
	return p
}

// counts returns how many answers passed, leaving out the 401s that carry
// an auth challenge (breakwater answers one by authenticating and sending
// the request again, and counts the two as one request), and the quota
// the last manifest answer announced.
func (p *quotaProxy) counts() (requests, left int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for code, n := range p.statuses {
		if code != http.StatusUnauthorized {
			requests += n
		}
	}
	return requests, p.left
}

// quotaWriter counts the answer and, for a manifest, sets the quota
// headers as they go out. It writes the header map directly, as
// Header.Set would canonicalize "ratelimit-limit".
type quotaWriter struct {
	http.ResponseWriter
	p *quotaProxy
	r *http.Request
}

func (w *quotaWriter) WriteHeader(code int) {
	p := w.p
	p.mu.Lock()
	p.statuses[code]++
	manifest := strings.Contains(w.r.URL.Path, "/manifests/")
	if manifest && w.r.Method == http.MethodGet && code == http.StatusOK {
		p.left--
	}
	left := p.left
	p.mu.Unlock()
	if manifest {
		w.Header()["ratelimit-limit"] = []string{fmt.Sprintf("%d;w=21600", quotaLimit)}
		w.Header()["ratelimit-remaining"] = []string{fmt.Sprintf("%d;w=21600", left)}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *quotaWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics is one scrape of breakwater's /metrics.
type metrics struct {
	families map[string]*dto.MetricFamily
	body     string
}

// scrapeMetrics GETs /metrics without credentials, as Prometheus does, and
// fails if the answer names anything of leaks.
func scrapeMetrics(t *testing.T, bw *harness.Breakwater, leaks ...string) metrics {
	t.Helper()
	resp, err := http.Get(bw.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics without credentials: %d, %v", resp.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, leak := range append(leaks, "library/", "sha256:", "/v2/") {
		if strings.Contains(string(body), leak) {
			t.Errorf("/metrics contains %q:\n%s", leak, body)
		}
	}
	// No label may hold a slash: a repository, a path or a URL.
	for name, f := range families {
		for _, s := range f.GetMetric() {
			for _, p := range s.GetLabel() {
				if strings.HasPrefix(name, "breakwater_") && strings.Contains(p.GetValue(), "/") {
					t.Errorf("%s{%s=%q}: a label holds a path", name, p.GetName(), p.GetValue())
				}
			}
		}
	}
	return metrics{families, string(body)}
}

// value sums the series of name whose labels include labels: counters
// and gauges by value, histograms by their count of observations.
func (m metrics) value(name string, labels map[string]string) float64 {
	var v float64
	for _, s := range m.families[name].GetMetric() {
		match := true
		for k, want := range labels {
			found := false
			for _, p := range s.GetLabel() {
				found = found || (p.GetName() == k && p.GetValue() == want)
			}
			match = match && found
		}
		if match {
			v += s.GetCounter().GetValue() + s.GetGauge().GetValue() + float64(s.GetHistogram().GetSampleCount())
		}
	}
	return v
}

// has reports whether any series of name exists.
func (m metrics) has(name string) bool { return len(m.families[name].GetMetric()) > 0 }

// histogramSum is the sum of name's observations over every series.
func (m metrics) histogramSum(name string) float64 {
	var v float64
	for _, s := range m.families[name].GetMetric() {
		v += s.GetHistogram().GetSampleSum()
	}
	return v
}

// labels builds a label set: upstream docker.io plus the pairs in kv.
func labels(kv ...string) map[string]string {
	m := map[string]string{"upstream": "docker.io"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// checkUpstreamCounted holds breakwater's upstream counters to what the
// proxy saw: every request counted and timed, and the quota gauges at
// what the last manifest answer said.
func checkUpstreamCounted(t *testing.T, step string, m metrics, p *quotaProxy) {
	t.Helper()
	sent, left := p.counts()
	if sent == 0 {
		t.Fatalf("%s: no request reached the upstream", step)
	}
	if got := m.value("breakwater_upstream_requests_total", labels()); got != float64(sent) {
		t.Errorf("%s: upstream requests = %v, the upstream saw %d", step, got, sent)
	}
	if got := m.value("breakwater_upstream_request_duration_seconds", labels()); got != float64(sent) {
		t.Errorf("%s: upstream latencies observed = %v, want one per request, %d", step, got, sent)
	}
	if sum := m.histogramSum("breakwater_upstream_request_duration_seconds"); sum <= 0 || sum > 60*float64(sent) {
		t.Errorf("%s: upstream latency sum = %vs for %d requests", step, sum, sent)
	}
	if got := m.value("breakwater_upstream_ratelimit_limit", labels()); got != quotaLimit {
		t.Errorf("%s: rate-limit limit = %v, want %d", step, got, quotaLimit)
	}
	if got := m.value("breakwater_upstream_ratelimit_remaining", labels()); got != float64(left) || left >= quotaLimit {
		t.Errorf("%s: rate-limit remaining = %v, the upstream last said %d", step, got, left)
	}
	if got := m.value("breakwater_upstream_up", labels()); got != 1 {
		t.Errorf("%s: upstream up = %v, want 1", step, got)
	}
}

// imageBlobs returns the number and total size of img's layers and
// config: the blobs a client that has none of them fetches.
func imageBlobs(t *testing.T, img v1.Image) (count int, size float64) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		size += float64(n)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return len(layers) + 1, size + float64(len(cfg))
}

// TestMetricsAfterDockerPull pulls Debian 12 with docker through a plain
// caching breakwater twice, cold and then warm after docker forgot the
// image, behind an upstream that sends Docker Hub's quota headers. The
// scrape, made without credentials and naming no repository, shows the
// cold pull as misses with its bytes fetched from the upstream and the
// warm one as hits served from the cache with no upstream traffic, every
// upstream request counted and timed, and the quota left. After
// breakwater stops, the stored hourly statistics hold both pulls.
func TestMetricsAfterDockerPull(t *testing.T) {
	if direct() {
		t.Log("direct mode has no breakwater to scrape; checking nothing")
		return
	}
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthToken})
	quota := startQuotaProxy(t, up.URL)
	bw := harness.StartBreakwater(t, harness.BreakwaterOptions{
		Upstream: quota.URL,
		Username: up.Username,
		Password: up.Password,
	})
	deb := harness.DebianImage(t, harness.OCI)
	up.Push(t, "library/debian", "12", deb)
	n, blobBytes := imageBlobs(t, deb)
	blobs := float64(n)

	before := scrapeMetrics(t, bw, "debian")
	if before.has("breakwater_upstream_ratelimit_remaining") {
		t.Errorf("rate-limit remaining reported before the upstream said anything")
	}
	if got := before.value("breakwater_upstream_received_bytes_total", labels()); got != 0 {
		t.Errorf("bytes received before any pull = %v", got)
	}

	docker := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/debian", "12")
	docker.Pull(t, ref, "")
	cold := scrapeMetrics(t, bw, "debian")
	if got := cold.value("breakwater_cache_requests_total", labels("kind", "tag", "result", "miss")); got != 1 {
		t.Errorf("cold: tag misses = %v, want 1", got)
	}
	if got := cold.value("breakwater_cache_requests_total", labels("kind", "blob", "result", "miss")); got != blobs {
		t.Errorf("cold: blob misses = %v, want %v: the layers and the config", got, blobs)
	}
	if got := cold.value("breakwater_cache_requests_total", labels("kind", "blob", "result", "hit")); got != 0 {
		t.Errorf("cold: blob hits = %v, want none: the cache was empty", got)
	}
	fetched := cold.value("breakwater_cache_served_bytes_total", labels("source", "upstream"))
	if fetched < blobBytes {
		t.Errorf("cold: bytes served from upstream = %v, want at least the image's %v", fetched, blobBytes)
	}
	if got := cold.value("breakwater_cache_served_bytes_total", labels("source", "cache")); got >= fetched {
		t.Errorf("cold: bytes served from cache = %v, want less than from upstream (%v)", got, fetched)
	}
	if got := cold.value("breakwater_upstream_received_bytes_total", labels()); got < fetched {
		t.Errorf("cold: bytes received from upstream = %v, want at least what was served from it, %v", got, fetched)
	}
	if got := cold.value("breakwater_pulls_total", labels()); got < 1 {
		t.Errorf("cold: pulls = %v, want docker's pull counted", got)
	}
	if got := cold.value("breakwater_http_requests_total", map[string]string{"route": "blob", "method": "GET", "code": "200"}); got != blobs {
		t.Errorf("cold: blob GETs answered 200 = %v, want %v", got, blobs)
	}
	checkUpstreamCounted(t, "cold", cold, quota)

	// Warm: docker forgets the image and pulls it again; breakwater has
	// all of it and asks the upstream nothing (the tag is fresh).
	docker.Remove(t, ref)
	docker.Pull(t, ref, "")
	warm := scrapeMetrics(t, bw, "debian")
	if got := warm.value("breakwater_cache_requests_total", labels("kind", "tag", "result", "hit")); got != 1 {
		t.Errorf("warm: tag hits = %v, want 1", got)
	}
	if got := warm.value("breakwater_cache_requests_total", labels("kind", "blob", "result", "hit")); got != blobs {
		t.Errorf("warm: blob hits = %v, want %v", got, blobs)
	}
	served := warm.value("breakwater_cache_served_bytes_total", labels("source", "cache")) - cold.value("breakwater_cache_served_bytes_total", labels("source", "cache"))
	if served < blobBytes {
		t.Errorf("warm: bytes served from cache = %v more, want at least the image's %v", served, blobBytes)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"breakwater_cache_requests_total", labels("result", "miss")},
		{"breakwater_cache_served_bytes_total", labels("source", "upstream")},
		{"breakwater_upstream_received_bytes_total", labels()},
		{"breakwater_upstream_requests_total", labels()},
	} {
		if got, was := warm.value(c.name, c.labels), cold.value(c.name, c.labels); got != was {
			t.Errorf("warm: %s%v went from %v to %v, want no change", c.name, c.labels, was, got)
		}
	}
	checkUpstreamCounted(t, "warm", warm, quota)

	// Stopping writes what was counted; the store has it, by hour.
	bw.Stop(t)
	meta, err := sqlite.Open(filepath.Join(bw.DataDir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	now := time.Now()
	buckets, err := meta.Stats(t.Context(), now.Add(-2*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var total store.StatsCounts
	for _, b := range buckets {
		total.Add(b.StatsCounts)
	}
	want := store.StatsCounts{
		Pulls:             int64(warm.value("breakwater_pulls_total", labels())),
		CacheHits:         int64(warm.value("breakwater_cache_requests_total", labels("result", "hit"))),
		CacheMisses:       int64(warm.value("breakwater_cache_requests_total", labels("result", "miss"))),
		BytesFromCache:    int64(warm.value("breakwater_cache_served_bytes_total", labels("source", "cache"))),
		BytesFromUpstream: int64(warm.value("breakwater_upstream_received_bytes_total", labels())),
	}
	if total != want || total.Pulls < 1 {
		t.Errorf("stored statistics = %+v, want what /metrics counted: %+v", total, want)
	}
}

// metricsFirewallConfig withholds what breaks a policy, but only records it
// in one repository.
const metricsFirewallConfig = `firewall:
  mode: quarantine
  repositories:
    - match: docker.io/library/metered
      mode: audit
`

// serveThrough is e.serve in the configured modes with breakwater sending
// its upstream requests to target, a proxy in front of e's upstream.
func (e *fwEnv) serveThrough(t *testing.T, target string) *harness.Breakwater {
	t.Helper()
	bw := harness.StartBreakwater(t, harness.BreakwaterOptions{
		DataDir: e.data,
		Config:  e.config,
		// The last value of a variable wins.
		Env:                append(e.env(), "BREAKWATER_UPSTREAM="+target),
		ConfiguredFirewall: true,
	})
	t.Cleanup(func() {
		log := bw.Process().Log()
		for _, m := range []string{"loading vulnerability data", "refreshing vulnerability data"} {
			if strings.Contains(log, m) {
				t.Errorf("breakwater logged %q: a test server must fetch no feeds", m)
			}
		}
	})
	return bw
}

// TestMetricsFirewall pulls an image holding a malicious npm package with
// docker through breakwater's firewall, with locally imported data: cold
// and warm from a repository in audit mode, then from one in quarantine
// mode. The scrape shows the firewall reading the layers from the upstream
// for one inspection, a verdict by result and policy for each repository,
// the layers then served from the cache, the quarantine record, the age of
// the vulnerability data and the upstream's requests and quota.
func TestMetricsFirewall(t *testing.T) {
	if direct() {
		t.Log("direct mode has no breakwater to scrape; checking nothing")
		return
	}
	e := newFWEnv(t, metricsFirewallConfig)
	img := maliciousNPM(t)
	e.up.Push(t, "library/metered", "1", img)
	e.up.Push(t, "library/withheld", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	n, blobBytes := imageBlobs(t, img)
	blobs := float64(n)

	quota := startQuotaProxy(t, e.up.URL)
	bw := e.serveThrough(t, quota.URL)
	leaks := []string{"metered", "withheld", "testdata"}
	before := scrapeMetrics(t, bw, leaks...)
	if !before.has("breakwater_vulndb_age_seconds") {
		t.Error("no vulnerability data age after an import")
	}
	// Imported by path, so kept under it: /metrics says unnamed instead.
	if age := before.value("breakwater_vulndb_age_seconds", map[string]string{"source": "unnamed"}); age <= 0 || age > 3600 {
		t.Errorf("vulnerability data age = %vs, want the seconds since the import", age)
	}
	if got := before.value("breakwater_quarantine_records", nil); got != 0 {
		t.Errorf("quarantine records before any pull = %v", got)
	}

	d := harness.StartDockerd(t, harness.DockerdOptions{})
	metered := bw.Ref("library/metered", "1")
	d.Pull(t, metered, "")
	cold := scrapeMetrics(t, bw, leaks...)
	if got := cold.value("breakwater_cache_requests_total", labels("kind", "tag", "result", "miss")); got != 1 {
		t.Errorf("cold: tag misses = %v, want 1", got)
	}
	if got := cold.value("breakwater_cache_requests_total", labels("kind", "blob", "result", "hit")); got != blobs {
		t.Errorf("cold: blob hits = %v, want %v: the inspection fetched them before docker asked", got, blobs)
	}
	if got := cold.value("breakwater_upstream_received_bytes_total", labels()); got < blobBytes {
		t.Errorf("cold: bytes received from upstream = %v, want at least the image's %v", got, blobBytes)
	}
	if got := cold.value("breakwater_cache_served_bytes_total", labels("source", "upstream")); got >= blobBytes {
		t.Errorf("cold: bytes served from upstream = %v, want no blob's: the inspection had fetched them", got)
	}
	if got := cold.value("breakwater_cache_served_bytes_total", labels("source", "cache")); got < blobBytes {
		t.Errorf("cold: bytes served from cache = %v, want at least the image's %v", got, blobBytes)
	}
	if got := cold.value("breakwater_firewall_inspections_total", map[string]string{"result": "ok"}); got != 1 {
		t.Errorf("cold: inspections = %v, want 1", got)
	}
	if got, sum := cold.value("breakwater_firewall_inspection_duration_seconds", nil), cold.histogramSum("breakwater_firewall_inspection_duration_seconds"); got != 1 || sum <= 0 || sum > 300 {
		t.Errorf("cold: inspection durations = %v observed, %vs, want one of some seconds", got, sum)
	}
	if got := cold.value("breakwater_firewall_verdicts_total", map[string]string{"result": "audit", "policy": "malware"}); got != 1 {
		t.Errorf("cold: audit verdicts by the malware policy = %v, want 1", got)
	}
	checkUpstreamCounted(t, "cold", cold, quota)

	// Warm: judged and cached; nothing goes upstream or is inspected again.
	d.Remove(t, metered)
	d.Pull(t, metered, "")
	warm := scrapeMetrics(t, bw, leaks...)
	if got := warm.value("breakwater_cache_requests_total", labels("kind", "tag", "result", "hit")); got != 1 {
		t.Errorf("warm: tag hits = %v, want 1", got)
	}
	if got := warm.value("breakwater_cache_requests_total", labels("kind", "blob", "result", "hit")); got != 2*blobs {
		t.Errorf("warm: blob hits = %v, want %v", got, 2*blobs)
	}
	if got := warm.value("breakwater_cache_served_bytes_total", labels("source", "cache")) - cold.value("breakwater_cache_served_bytes_total", labels("source", "cache")); got < blobBytes {
		t.Errorf("warm: bytes served from cache = %v more, want at least the image's %v", got, blobBytes)
	}
	for _, name := range []string{"breakwater_upstream_received_bytes_total", "breakwater_upstream_requests_total", "breakwater_firewall_inspections_total", "breakwater_firewall_verdicts_total"} {
		if got, was := warm.value(name, nil), cold.value(name, nil); got != was {
			t.Errorf("warm: %s went from %v to %v, want no change", name, was, got)
		}
	}

	// The same image in a quarantine-mode repository is withheld.
	if err := d.PullErr(bw.Ref("library/withheld", "1"), ""); err == nil {
		t.Fatal("docker pull from the quarantine-mode repository succeeded, want it withheld")
	}
	held := scrapeMetrics(t, bw, leaks...)
	if got := held.value("breakwater_firewall_verdicts_total", map[string]string{"result": "quarantine", "policy": "malware"}); got != 1 {
		t.Errorf("withheld: quarantine verdicts by the malware policy = %v, want 1", got)
	}
	if got := held.value("breakwater_quarantine_records", nil); got != 1 {
		t.Errorf("withheld: quarantine records = %v, want 1", got)
	}
	if got := held.value("breakwater_http_requests_total", map[string]string{"route": "manifest", "code": "404"}); got < 1 {
		t.Errorf("withheld: manifest requests answered 404 = %v, want docker's", got)
	}
	checkUpstreamCounted(t, "withheld", held, quota)

	bw.Stop(t)
	meta, err := sqlite.Open(filepath.Join(e.data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	now := time.Now()
	buckets, err := meta.Stats(t.Context(), now.Add(-2*time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var total store.StatsCounts
	for _, b := range buckets {
		total.Add(b.StatsCounts)
	}
	if total.Violations != 2 || total.Quarantines != 1 || total.Pulls < 1 || total.CacheHits < int64(2*blobs) {
		t.Errorf("stored statistics = %+v; want 2 violations, 1 quarantine, the pull and the hits", total)
	}
}

// TestMetricsWithoutLogin runs breakwater with anonymous pulls off: the
// registry refuses a client without credentials, while /metrics,
// /healthz and /readyz answer it, and the scrape counts the refusals
// under their route without naming the repository asked for.
func TestMetricsWithoutLogin(t *testing.T) {
	if direct() {
		t.Log("direct mode has no breakwater to scrape; checking nothing")
		return
	}
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthNone})
	bw := harness.StartBreakwater(t, harness.BreakwaterOptions{Upstream: up.URL, AccessControl: true})
	tests := []struct {
		path string
		want int
	}{
		{"/v2/", http.StatusUnauthorized},
		{"/v2/library/secretrepo/manifests/1", http.StatusUnauthorized},
		{"/healthz", http.StatusOK},
		{"/readyz", http.StatusOK}, // the firewall is off: nothing to wait for
	}
	for _, tt := range tests {
		resp, err := http.Get(bw.URL + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s without credentials: %d, want %d", tt.path, resp.StatusCode, tt.want)
		}
	}
	m := scrapeMetrics(t, bw, "secretrepo")
	for _, tt := range []struct {
		labels map[string]string
		min    float64
	}{
		{map[string]string{"route": "base", "code": "401"}, 1},
		{map[string]string{"route": "manifest", "code": "401"}, 1},
		{map[string]string{"route": "health", "code": "200"}, 2},
	} {
		if got := m.value("breakwater_http_requests_total", tt.labels); got < tt.min {
			t.Errorf("requests %v = %v, want at least %v", tt.labels, got, tt.min)
		}
	}
	if got := m.value("breakwater_cache_requests_total", nil); got != 0 {
		t.Errorf("cache requests = %v, want none: a refused request never reaches the cache", got)
	}
}
