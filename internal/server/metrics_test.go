package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	b.ServedBytes("docker.io", telemetry.SourceUpstream, 300)
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
