package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/telemetry"
	"breakwater/internal/upstream/upstreamtest"
	"breakwater/internal/vulndb"
)

// metricsServer builds a server whose default upstream is a test remote
// sending Docker Hub's quota headers, holding library/app:1.
func metricsServer(t *testing.T, mode policy.Mode) (*Server, string) {
	t.Helper()
	remote := upstreamtest.NewRemote(t, upstreamtest.RateLimitHeaders())
	remote.PushImage(t, "library/app", "1")
	c := testConfig(t, mode)
	c.Upstreams[0].URL = remote.URL
	c.Auth.AnonymousPull = true
	s, err := Build(c, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return s, c.Data
}

// TestMetricsEndpoint pulls through a built server and reads /metrics as
// Prometheus does: it parses, holds every documented family, counts the
// pull under fixed route names, and names no repository.
func TestMetricsEndpoint(t *testing.T) {
	s, _ := metricsServer(t, policy.ModeAudit)
	defer s.Close()
	h := s.Handler()
	if code, body := get(t, h, "/v2/app/manifests/1"); code != http.StatusOK {
		t.Fatalf("pull: %d %s", code, body)
	}
	get(t, h, "/healthz")

	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	for _, name := range []string{
		"breakwater_http_requests_total",
		"breakwater_http_request_duration_seconds",
		"breakwater_cache_requests_total",
		"breakwater_cache_served_bytes_total",
		"breakwater_pulls_total",
		"breakwater_upstream_requests_total",
		"breakwater_upstream_request_duration_seconds",
		"breakwater_upstream_received_bytes_total",
		"breakwater_upstream_ratelimit_remaining",
		"breakwater_upstream_ratelimit_limit",
		"breakwater_upstream_up",
		"breakwater_quarantine_records",
		"go_goroutines",
		"process_open_fds",
	} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if strings.Contains(body, "library/app") || strings.Contains(body, "/v2/") {
		t.Errorf("/metrics names a repository or path:\n%s", body)
	}

	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_http_requests_total", map[string]string{"route": "manifest", "method": "GET", "code": "200"}, 1},
		{"breakwater_http_requests_total", map[string]string{"route": "health", "method": "GET", "code": "200"}, 1},
		{"breakwater_upstream_up", map[string]string{"upstream": "docker.io"}, 1},
		{"breakwater_upstream_ratelimit_limit", map[string]string{"upstream": "docker.io"}, 100},
		{"breakwater_quarantine_records", nil, 0},
		{"breakwater_pulls_total", map[string]string{"upstream": "docker.io"}, 1},
	}
	for _, tt := range tests {
		got, err := s.Metrics().Value(tt.metric, tt.labels)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
	if left, _ := s.Metrics().Value("breakwater_upstream_ratelimit_remaining", nil); left <= 0 || left >= 100 {
		t.Errorf("ratelimit remaining = %v, want what the remote counted down to", left)
	}
	if families["breakwater_vulndb_age_seconds"] != nil {
		t.Errorf("vulndb age reported before any data was imported")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rec.json"), []byte(osvRecord), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := vulndb.Import(t.Context(), s.vulndb, dir, vulndb.WithSource("osv")); err != nil {
		t.Fatalf("import: %v", err)
	}
	if age, err := s.Metrics().Value("breakwater_vulndb_age_seconds", map[string]string{"source": "osv"}); err != nil || age <= 0 || age > 60 {
		t.Errorf("vulndb age after an import = %v, %v; want a few seconds", age, err)
	}
	if code, _ := get(t, h, "/metrics/extra"); code != http.StatusNotFound {
		t.Errorf("/metrics/extra: %d, want 404", code)
	}
}

func TestRouteName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/healthz", "health"},
		{"/readyz", "health"},
		{"/metrics", "metrics"},
		{"/auth/token", "token"},
		{"/api/v1/users", "api"},
		{"/ui", "ui"},
		{"/ui/quarantine", "ui"},
		{"/uix", "other"},
		{"/v2/", "base"},
		{"/v2/library/app/manifests/1", "manifest"},
		{"/v2/library/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", "blob"},
		{"/favicon.ico", "other"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, tt.path, nil)
		if got := routeName(r); got != tt.want {
			t.Errorf("routeName(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestStatsWrittenOnClose: what a server counted reaches the store when
// it closes, however short it ran.
func TestStatsWrittenOnClose(t *testing.T) {
	s, dir := metricsServer(t, policy.ModeOff)
	s.Start(t.Context())
	for range 2 {
		if code, body := get(t, s.Handler(), "/v2/app/manifests/1"); code != http.StatusOK {
			t.Fatalf("pull: %d %s", code, body)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	now := time.Now()
	got, err := meta.Stats(t.Context(), now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var sum store.StatsCounts
	for _, b := range got {
		if b.Upstream != "docker.io" {
			t.Errorf("bucket of upstream %q, want docker.io", b.Upstream)
		}
		sum.Add(b.StatsCounts)
	}
	if sum.Pulls != 2 || sum.CacheMisses != 1 || sum.CacheHits != 1 || sum.BytesFromUpstream == 0 || sum.BytesFromCache != sum.BytesFromUpstream {
		t.Errorf("stored statistics = %+v; want 2 pulls, 1 miss, 1 hit, the manifest's bytes from each source", sum)
	}
}

// TestStatsSumAcrossReplicas: two processes' metrics writing one store add
// up, and a failed write is kept for the next flush.
func TestStatsSumAcrossReplicas(t *testing.T) {
	meta, err := sqlite.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	s := &Server{meta: meta}
	a, b := telemetry.NewMetrics(), telemetry.NewMetrics()
	a.Pull("docker.io")
	a.CacheRequest("docker.io", telemetry.KindTag, telemetry.CacheHit)
	b.Pull("docker.io")
	b.UpstreamReceived("docker.io").Add(300)
	b.Verdict("ghcr.io", "quarantine", "cvss-8", true)

	failing := func(context.Context, []telemetry.StatsDelta) error { return context.DeadlineExceeded }
	if err := b.FlushStats(t.Context(), failing); err == nil {
		t.Fatal("FlushStats with a failing writer = nil, want its error")
	}
	for _, m := range []*telemetry.Metrics{a, b, a} {
		if err := m.FlushStats(t.Context(), s.writeStats); err != nil {
			t.Fatalf("FlushStats: %v", err)
		}
	}

	now := time.Now()
	got, err := meta.Stats(t.Context(), now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.StatsCounts{
		"docker.io": {Pulls: 2, CacheHits: 1, BytesFromUpstream: 300},
		"ghcr.io":   {Violations: 1, Quarantines: 1},
	}
	sums := map[string]store.StatsCounts{}
	for _, bk := range got {
		c := sums[bk.Upstream]
		c.Add(bk.StatsCounts)
		sums[bk.Upstream] = c
	}
	for up, w := range want {
		if sums[up] != w {
			t.Errorf("statistics of %s = %+v, want %+v", up, sums[up], w)
		}
	}
	if len(sums) != len(want) {
		t.Errorf("statistics for %d upstreams, want %d: %v", len(sums), len(want), sums)
	}
}

// malwareRecord marks nastypkg 6.6.6 as a malicious npm package.
const malwareRecord = `{"id": "MAL-2099-0001", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "npm", "name": "nastypkg"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}`

// npmImage is a linux/amd64 image whose one layer installs the npm package
// name at version.
func npmImage(t *testing.T, name, version string) v1.Image {
	t.Helper()
	layer, err := crane.Layer(map[string][]byte{
		"usr/lib/node_modules/" + name + "/package.json": fmt.Appendf(nil, `{"name": %q, "version": %q}`, name, version),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}

// scrape is one parsed GET /metrics.
type scrape struct {
	families map[string]*dto.MetricFamily
	body     string
}

func scrapeMetrics(t *testing.T, h http.Handler) scrape {
	t.Helper()
	code, body := get(t, h, MetricsPath)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	checkNoSlash(t, families)
	return scrape{families, body}
}

// checkNoSlash fails if a label value of breakwater's metrics holds a
// slash: a repository, a path or a URL.
func checkNoSlash(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range families {
		if !strings.HasPrefix(name, "breakwater_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, p := range m.GetLabel() {
				if strings.Contains(p.GetValue(), "/") {
					t.Errorf("%s{%s=%q}: a label holds a path", name, p.GetName(), p.GetValue())
				}
			}
		}
	}
}

// value sums the series of name whose labels include labels: counters and
// gauges by value, histograms by their count.
func (s scrape) value(name string, labels map[string]string) float64 {
	var sum float64
	for _, m := range s.families[name].GetMetric() {
		match := true
		for k, want := range labels {
			found := false
			for _, p := range m.GetLabel() {
				found = found || (p.GetName() == k && p.GetValue() == want)
			}
			match = match && found
		}
		if match {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// pullImage GETs repo:tag's manifest and then each blob it names, as a
// client pulling the image would, and returns the bytes received.
func pullImage(t *testing.T, h http.Handler, repo, tag string) int {
	t.Helper()
	code, body := get(t, h, "/v2/"+repo+"/manifests/"+tag)
	if code != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: %d %s", repo, tag, code, body)
	}
	m, err := v1.ParseManifest(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse manifest: %v", err)
	}
	n := len(body)
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		code, blob := get(t, h, "/v2/"+repo+"/blobs/"+d.Digest.String())
		if code != http.StatusOK || int64(len(blob)) != d.Size {
			t.Fatalf("GET blob %s: %d, %d bytes, want 200 and %d", d.Digest, code, len(blob), d.Size)
		}
		n += len(blob)
	}
	return n
}

// TestMetricsColdThenWarm pulls through a quarantine-mode server whose
// upstream sends Docker Hub's quota headers and fails once with 429 and
// once with 503, and reads /metrics after each step: the cold pull is a
// miss with its bytes fetched upstream, inspected once and judged by
// result and policy; the warm pull is a hit served from the cache with no
// upstream traffic; a malicious image is quarantined and counted; and
// every request that reached the upstream is counted, timed and sorted.
func TestMetricsColdThenWarm(t *testing.T) {
	fail429, _ := upstreamtest.FailFirst(1, http.StatusTooManyRequests, "0", upstreamtest.IsManifest)
	fail503, _ := upstreamtest.FailFirst(1, http.StatusServiceUnavailable, "", upstreamtest.IsBlob)
	remote := upstreamtest.NewRemote(t, upstreamtest.RateLimitHeaders(), fail429, fail503)
	remote.Write(t, "library/zebrafish", "1", npmImage(t, "left-pad", "1.0.0"))
	remote.Write(t, "library/nastyfish", "1", npmImage(t, "nastypkg", "6.6.6"))
	c := testConfig(t, policy.ModeQuarantine)
	c.Upstreams[0].URL = remote.URL
	c.Auth.AnonymousPull = true
	s, err := Build(c, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer s.Close()
	dir := t.TempDir()
	for name, rec := range map[string]string{"fixable.json": osvRecord, "malware.json": malwareRecord} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Imported without a name: kept under its path, shown as unnamed.
	if _, err := vulndb.Import(t.Context(), s.vulndb, dir); err != nil {
		t.Fatalf("import: %v", err)
	}
	h := s.Handler()
	hub := map[string]string{"upstream": "docker.io"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"upstream": "docker.io"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	check := func(step string, sc scrape, name string, labels map[string]string, want float64) {
		t.Helper()
		if got := sc.value(name, labels); got != want {
			t.Errorf("%s: %s%v = %v, want %v", step, name, labels, got, want)
		}
	}

	// Cold: the firewall reads the layers from the upstream to judge the
	// image, so the client's blob GETs find them cached.
	size := pullImage(t, h, "zebrafish", "1")
	cold := scrapeMetrics(t, h)
	manifestBytes := cold.value("breakwater_cache_served_bytes_total", with("source", "upstream"))
	if manifestBytes <= 0 || manifestBytes >= float64(size) {
		t.Errorf("cold: bytes served from upstream = %v, want the manifest's, less than the image's %d", manifestBytes, size)
	}
	check("cold", cold, "breakwater_cache_requests_total", with("kind", "tag", "result", "miss"), 1)
	check("cold", cold, "breakwater_cache_requests_total", with("kind", "blob", "result", "hit"), 2)
	check("cold", cold, "breakwater_cache_served_bytes_total", with("source", "cache"), float64(size)-manifestBytes)
	if got := cold.value("breakwater_upstream_received_bytes_total", hub); got < float64(size) {
		t.Errorf("cold: bytes received from upstream = %v, want at least the image's %d", got, size)
	}
	check("cold", cold, "breakwater_firewall_inspections_total", map[string]string{"result": "ok"}, 1)
	check("cold", cold, "breakwater_firewall_inspection_duration_seconds", nil, 1)
	check("cold", cold, "breakwater_firewall_verdicts_total", map[string]string{"result": "audit", "policy": "fixable"}, 1)
	check("cold", cold, "breakwater_pulls_total", hub, 1)
	check("cold", cold, "breakwater_http_requests_total", map[string]string{"route": "manifest", "method": "GET", "code": "200"}, 1)
	check("cold", cold, "breakwater_http_requests_total", map[string]string{"route": "blob", "method": "GET", "code": "200"}, 2)

	// Warm: everything from the cache, nothing asked of the upstream.
	if got := pullImage(t, h, "zebrafish", "1"); got != size {
		t.Fatalf("warm pull received %d bytes, cold %d", got, size)
	}
	warm := scrapeMetrics(t, h)
	check("warm", warm, "breakwater_cache_requests_total", with("kind", "tag", "result", "hit"), 1)
	check("warm", warm, "breakwater_cache_requests_total", with("kind", "blob", "result", "hit"), 4)
	check("warm", warm, "breakwater_cache_requests_total", with("result", "miss"), 1)
	check("warm", warm, "breakwater_cache_served_bytes_total", with("source", "cache"), 2*float64(size)-manifestBytes)
	check("warm", warm, "breakwater_cache_served_bytes_total", with("source", "upstream"), manifestBytes)
	for _, name := range []string{"breakwater_upstream_received_bytes_total", "breakwater_upstream_requests_total", "breakwater_firewall_inspections_total"} {
		check("warm", warm, name, nil, cold.value(name, nil))
	}

	// A malicious image is quarantined: withheld, counted, on record.
	if code, body := get(t, h, "/v2/nastyfish/manifests/1"); code != http.StatusNotFound {
		t.Fatalf("pull of the malicious image: %d %s, want 404", code, body)
	}
	sc := scrapeMetrics(t, h)
	check("quarantine", sc, "breakwater_firewall_verdicts_total", map[string]string{"result": "quarantine", "policy": "malware"}, 1)
	check("quarantine", sc, "breakwater_firewall_inspections_total", map[string]string{"result": "ok"}, 2)
	check("quarantine", sc, "breakwater_quarantine_records", nil, 1)
	check("quarantine", sc, "breakwater_http_requests_total", map[string]string{"route": "manifest", "code": "404"}, 1)
	check("quarantine", sc, "breakwater_pulls_total", hub, 2)

	// The upstream: every request that reached it counted and timed, the
	// refusals sorted, and the quota it last reported.
	sent := float64(remote.Requests())
	check("upstream", sc, "breakwater_upstream_requests_total", hub, sent)
	check("upstream", sc, "breakwater_upstream_request_duration_seconds", hub, sent)
	check("upstream", sc, "breakwater_upstream_requests_total", with("code", "429"), 1)
	check("upstream", sc, "breakwater_upstream_rate_limited_total", hub, 1)
	check("upstream", sc, "breakwater_upstream_requests_total", with("code", "503"), 1)
	check("upstream", sc, "breakwater_upstream_errors_total", hub, 1)
	check("upstream", sc, "breakwater_upstream_ratelimit_limit", hub, 100)
	if left := sc.value("breakwater_upstream_ratelimit_remaining", hub); left < 100-sent || left > 99 {
		t.Errorf("ratelimit remaining = %v, want what the remote counted down to, between %v and 99", left, 100-sent)
	}
	check("upstream", sc, "breakwater_upstream_up", hub, 1)
	if age := sc.value("breakwater_vulndb_age_seconds", map[string]string{"source": telemetry.SourceUnnamed}); age <= 0 || age > 60 {
		t.Errorf("vulndb age = %v, want a few seconds", age)
	}
	for _, leak := range []string{"zebrafish", "nastyfish", "library/", "left-pad", "nastypkg", "sha256:", "/v2/", "127.0.0.1", dir} {
		if strings.Contains(sc.body, leak) {
			t.Errorf("/metrics contains %q", leak)
		}
	}
}

// TestMetricsNeedNoCredentials: with anonymous pulls off, the registry
// answers 401 without credentials while /metrics, /healthz and /readyz
// answer anyone, and the refusals are counted under their route.
func TestMetricsNeedNoCredentials(t *testing.T) {
	c := testConfig(t, policy.ModeQuarantine)
	c.Auth.AnonymousPull = false
	s, err := Build(c, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer s.Close()
	h := s.Handler()
	tests := []struct {
		path string
		want int
	}{
		{"/v2/", http.StatusUnauthorized},
		{"/v2/secretrepo/manifests/1", http.StatusUnauthorized},
		{"/healthz", http.StatusOK},
		{"/readyz", http.StatusServiceUnavailable}, // quarantine mode, no data yet
		{MetricsPath, http.StatusOK},
	}
	for _, tt := range tests {
		if code, body := get(t, h, tt.path); code != tt.want {
			t.Errorf("GET %s without credentials: %d %s, want %d", tt.path, code, body, tt.want)
		}
	}
	sc := scrapeMetrics(t, h)
	for _, tt := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"route": "base", "code": "401"}, 1},
		{map[string]string{"route": "manifest", "code": "401"}, 1},
		{map[string]string{"route": "health", "code": "200"}, 1},
		{map[string]string{"route": "health", "code": "503"}, 1},
		{map[string]string{"route": "metrics", "code": "200"}, 1},
	} {
		if got := sc.value("breakwater_http_requests_total", tt.labels); got != tt.want {
			t.Errorf("requests %v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	if strings.Contains(sc.body, "secretrepo") {
		t.Error("/metrics names the repository a refused request asked for")
	}
}
