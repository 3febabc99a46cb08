package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// TestNilMetrics: a nil *Metrics does nothing, and says so without panics.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.CacheRequest("u", KindBlob, CacheHit)
	m.ServedBytes("u", SourceCache, 10)
	m.Pull("u")
	m.UpstreamRequest("u", "GET", 200, time.Second)
	m.Inspection(InspectionOK, time.Second)
	m.Verdict("u", "quarantine", "p", true)
	m.UpstreamReceived("u").Add(10)
	ByteCounter{}.Add(10)
	m.SetQuarantineSize(nil)
	m.SetVulnDBUpdated(nil)
	m.SetUpstreams(nil)
	if err := m.FlushStats(t.Context(), func(context.Context, []StatsDelta) error { return errors.New("called") }); err != nil {
		t.Errorf("FlushStats on nil = %v", err)
	}
	m.RunStatsFlusher(t.Context(), nil, 0, nil)
	next := http.NotFoundHandler()
	if h := m.Instrument(next, nil); h == nil {
		t.Error("Instrument on nil returned nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler answered %d, want 404", rec.Code)
	}
	if v, err := m.Value("x", nil); v != 0 || err != nil {
		t.Errorf("Value on nil = %v, %v", v, err)
	}
}

// TestInstrument checks the status and route each request is counted
// under, including a handler that writes nothing, one that streams with
// ReadFrom, and one that aborts.
func TestInstrument(t *testing.T) {
	m := NewMetrics()
	h := m.Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/silent":
		case "/stream":
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Error("instrumented writer hides io.ReaderFrom, the way to sendfile")
			}
			if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() == nil {
				t.Error("instrumented writer hides Unwrap")
			}
			io.Copy(w, strings.NewReader("body"))
		case "/abort":
			// Flushed, so the client sees a cut body and does not retry.
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
	}), func(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/") })
	srv := httptest.NewServer(h)
	defer srv.Close()

	for _, req := range []struct{ method, path string }{
		{"GET", "/teapot"}, {"GET", "/teapot"}, {"BREW", "/teapot"},
		{"HEAD", "/silent"}, {"GET", "/stream"}, {"GET", "/abort"},
	} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		if resp, err := http.DefaultClient.Do(r); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}

	tests := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"route": "teapot", "method": "GET", "code": "418"}, 2},
		{map[string]string{"route": "teapot", "method": "other", "code": "418"}, 1},
		{map[string]string{"route": "silent", "method": "HEAD", "code": "200"}, 1},
		{map[string]string{"route": "stream", "method": "GET", "code": "200"}, 1},
		{map[string]string{"route": "abort", "method": "GET", "code": "aborted"}, 1},
	}
	for _, tt := range tests {
		if got, _ := m.Value("breakwater_http_requests_total", tt.labels); got != tt.want {
			t.Errorf("requests %v = %v, want %v", tt.labels, got, tt.want)
		}
	}
	if got, _ := m.Value("breakwater_http_request_duration_seconds", map[string]string{"route": "teapot"}); got != 3 {
		t.Errorf("durations of teapot = %v, want 3", got)
	}
}

func TestUpstreamRequest(t *testing.T) {
	m := NewMetrics()
	for _, code := range []int{200, 404, 429, 429, 503, 0} {
		m.UpstreamRequest("hub", "GET", code, time.Millisecond)
	}
	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_upstream_requests_total", map[string]string{"code": "429"}, 2},
		{"breakwater_upstream_requests_total", map[string]string{"code": "error"}, 1},
		{"breakwater_upstream_requests_total", map[string]string{"upstream": "hub"}, 6},
		{"breakwater_upstream_errors_total", map[string]string{"upstream": "hub"}, 2},
		{"breakwater_upstream_rate_limited_total", map[string]string{"upstream": "hub"}, 2},
		{"breakwater_upstream_request_duration_seconds", nil, 6},
	}
	for _, tt := range tests {
		if got, _ := m.Value(tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
}

// TestScrapeGauges: the gauges are read when scraped, and one that fails
// is left out and counted, not failing the scrape.
func TestScrapeGauges(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	size := 3
	m.SetQuarantineSize(func(context.Context) (int, error) { return size, nil })
	m.SetVulnDBUpdated(func(context.Context) (map[string]time.Time, error) {
		return nil, errors.New("database locked")
	})
	m.SetUpstreams(func() []UpstreamState {
		return []UpstreamState{
			{Name: "hub", Up: true, RateLimitKnown: true, RateLimitLimit: 100, RateLimitRemaining: 42},
			{Name: "ghcr", Up: false},
		}
	})
	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_quarantine_records", nil, 3},
		{"breakwater_upstream_up", map[string]string{"upstream": "hub"}, 1},
		{"breakwater_upstream_up", map[string]string{"upstream": "ghcr"}, 0},
		{"breakwater_upstream_ratelimit_remaining", map[string]string{"upstream": "hub"}, 42},
		{"breakwater_upstream_ratelimit_limit", nil, 100},
	}
	for _, tt := range tests {
		if got, _ := m.Value(tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
	// Every scrape that fails counts; Value above scraped several times.
	if got, _ := m.Value("breakwater_metrics_collect_errors_total", map[string]string{"metric": "breakwater_vulndb_age_seconds"}); got < 1 {
		t.Errorf("collect errors = %v, want the failed vulndb reads counted", got)
	}
	if got, _ := m.Value("breakwater_vulndb_age_seconds", nil); got != 0 {
		t.Errorf("vulndb age reported from a failed read: %v", got)
	}
	size = 5
	if got, _ := m.Value("breakwater_quarantine_records", nil); got != 5 {
		t.Errorf("quarantine records after a change = %v, want 5", got)
	}

	// Named sources keep their name; those kept under a path or URL share
	// one series with the newest one's age, naming neither.
	m.SetVulnDBUpdated(func(context.Context) (map[string]time.Time, error) {
		return map[string]time.Time{
			"osv":                        now.Add(-90 * time.Second),
			"nvd-2024":                   now.Add(-time.Hour),
			"/srv/feeds/npm-all.zip":     now.Add(-3 * time.Hour),
			"https://mirror.example/osv": now.Add(-2 * time.Hour),
			"":                           now.Add(-4 * time.Hour),
		}, nil
	})
	for source, want := range map[string]float64{"osv": 90, "nvd-2024": 3600, SourceUnnamed: 7200} {
		if got, _ := m.Value("breakwater_vulndb_age_seconds", map[string]string{"source": source}); got != want {
			t.Errorf("vulndb age of %s = %v, want %v", source, got, want)
		}
	}
	if got, _ := m.Value("breakwater_vulndb_age_seconds", nil); got != 90+3600+7200 {
		t.Errorf("vulndb ages summed = %v, want three series", got)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "breakwater_upstream_up{upstream=\"ghcr\"} 0") {
		t.Errorf("/metrics = %d:\n%s", rec.Code, rec.Body.String())
	}
	for _, leak := range []string{"/srv", "mirror.example", "npm-all"} {
		if strings.Contains(rec.Body.String(), leak) {
			t.Errorf("/metrics names a source's path or URL (%q):\n%s", leak, rec.Body.String())
		}
	}
}

// TestStatsBuckets: counts go to the bucket of the hour they happen in,
// per upstream, and RunStatsFlusher writes on its ticks and once more
// when stopped.
func TestStatsBuckets(t *testing.T) {
	m := NewMetrics()
	var mu sync.Mutex
	now := time.Date(2026, 5, 1, 12, 59, 0, 0, time.FixedZone("east", 3600))
	m.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m.Pull("hub")
	m.CacheRequest("hub", KindBlob, CacheStale)
	m.CacheRequest("hub", KindBlob, CacheNegative) // neither hit nor miss
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	m.Pull("hub")
	m.CacheRequest("hub", KindTag, CacheMiss)
	m.ServedBytes("hub", SourceCache, 7)
	m.ServedBytes("ghcr", SourceUpstream, 5) // counted as received below
	m.UpstreamReceived("ghcr").Add(9)
	m.Verdict("ghcr", "audit", "p", false)
	m.Verdict("ghcr", "allow", "", false)

	var got []StatsDelta
	written := make(chan struct{}, 10)
	write := func(_ context.Context, ds []StatsDelta) error {
		mu.Lock()
		got = append(got, ds...)
		mu.Unlock()
		written <- struct{}{}
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.RunStatsFlusher(ctx, write, time.Millisecond, nil)
	}()
	<-written
	m.Pull("late")
	cancel()
	<-done

	h11 := time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)
	want := map[string]StatsCounts{
		"hub " + h11.String():                 {Pulls: 1, CacheHits: 1},
		"hub " + h11.Add(time.Hour).String():  {Pulls: 1, CacheMisses: 1, BytesFromCache: 7},
		"ghcr " + h11.Add(time.Hour).String(): {BytesFromUpstream: 9, Violations: 1},
		"late " + h11.Add(time.Hour).String(): {Pulls: 1},
	}
	sums := map[string]StatsCounts{}
	for _, d := range got {
		k := d.Upstream + " " + d.Hour.String()
		c := sums[k]
		c.Add(d.Counts)
		sums[k] = c
	}
	if len(sums) != len(want) {
		t.Errorf("buckets = %v, want %v", sums, want)
	}
	for k, w := range want {
		if sums[k] != w {
			t.Errorf("bucket %s = %+v, want %+v", k, sums[k], w)
		}
	}
}

// TestUpstreamReceived: the bytes read from one upstream add up on the
// series of that upstream only, which exists at zero once looked up, so a
// rate() has a start before the first fetch.
func TestUpstreamReceived(t *testing.T) {
	m := NewMetrics()
	hub := m.UpstreamReceived("hub")
	if got := testutil.ToFloat64(m.upstreamReceived.WithLabelValues("hub")); got != 0 {
		t.Errorf("received before any read = %v, want 0", got)
	}
	hub.Add(1000)
	hub.Add(0)
	hub.Add(-5) // a Read's n is never negative; ignored rather than panicking
	m.UpstreamReceived("hub").Add(24)
	m.UpstreamReceived("ghcr").Add(7)
	tests := []struct {
		upstream string
		want     float64
	}{{"hub", 1024}, {"ghcr", 7}}
	for _, tt := range tests {
		if got, _ := m.Value("breakwater_upstream_received_bytes_total", map[string]string{"upstream": tt.upstream}); got != tt.want {
			t.Errorf("received from %s = %v, want %v", tt.upstream, got, tt.want)
		}
	}
}

// TestFirewallMetrics: inspections by result with their durations, and
// verdicts by result and policy.
func TestFirewallMetrics(t *testing.T) {
	m := NewMetrics()
	m.Inspection(InspectionOK, 2*time.Second)
	m.Inspection(InspectionOK, 40*time.Millisecond)
	m.Inspection(InspectionFailed, time.Second)
	m.Verdict("hub", "allow", "", false)
	m.Verdict("hub", "audit", "fixable", false)
	m.Verdict("ghcr", "quarantine", "malware", true)
	m.Verdict("hub", "quarantine", "malware", true)

	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_firewall_inspections_total", map[string]string{"result": InspectionOK}, 2},
		{"breakwater_firewall_inspections_total", map[string]string{"result": InspectionFailed}, 1},
		{"breakwater_firewall_inspections_total", map[string]string{"result": InspectionError}, 0},
		{"breakwater_firewall_inspection_duration_seconds", nil, 3},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "allow", "policy": ""}, 1},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "audit", "policy": "fixable"}, 1},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "quarantine", "policy": "malware"}, 2},
	}
	for _, tt := range tests {
		if got, _ := m.Value(tt.metric, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
	// The histogram holds seconds, not milliseconds or nanoseconds.
	if got := histogramSum(t, m, "breakwater_firewall_inspection_duration_seconds"); got < 3.03 || got > 3.05 {
		t.Errorf("inspection seconds summed = %v, want 3.04", got)
	}
}

// histogramSum is the sum of the one histogram named name.
func histogramSum(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	t.Fatalf("no single histogram %s", name)
	return 0
}

// allowedLabels are the only label names breakwater's metrics may carry:
// each takes fixed words or configured names, so series stay few. A label
// that could hold a repository, tag, digest, path, user or address does
// not belong here.
var allowedLabels = []string{"route", "method", "code", "upstream", "kind", "result", "source", "policy", "metric"}

// TestMetricsConventions touches every collector, then holds each of
// breakwater's families to the Prometheus naming rules (promlint, a unit
// suffix that matches the type), to the allowed labels, and to
// docs/metrics.md, which must list it with exactly its labels and list
// nothing that does not exist.
func TestMetricsConventions(t *testing.T) {
	m := NewMetrics()
	m.Instrument(http.NotFoundHandler(), func(*http.Request) string { return "other" }).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	m.CacheRequest("hub", KindBlob, CacheHit)
	m.ServedBytes("hub", SourceCache, 1)
	m.Pull("hub")
	m.UpstreamRequest("hub", "GET", 503, time.Millisecond)
	m.UpstreamRequest("hub", "GET", 429, time.Millisecond)
	m.UpstreamReceived("hub").Add(1)
	m.Inspection(InspectionOK, time.Millisecond)
	m.Verdict("hub", "audit", "fixable", false)
	m.SetQuarantineSize(func(context.Context) (int, error) { return 0, nil })
	m.SetVulnDBUpdated(func(context.Context) (map[string]time.Time, error) {
		return map[string]time.Time{"osv": time.Now()}, nil
	})
	m.SetUpstreams(func() []UpstreamState {
		return []UpstreamState{{Name: "hub", Up: true, RateLimitKnown: true, RateLimitLimit: 100, RateLimitRemaining: 1}}
	})
	m.collectErrors.WithLabelValues("breakwater_quarantine_records").Add(0)

	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	docs := documentedMetrics(t)
	seen := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "breakwater_") {
			continue
		}
		seen[name] = true
		var labels []string
		if ms := f.GetMetric(); len(ms) > 0 {
			for _, p := range ms[0].GetLabel() {
				labels = append(labels, p.GetName())
				if !slices.Contains(allowedLabels, p.GetName()) {
					t.Errorf("%s has label %q, not one of the bounded labels %v", name, p.GetName(), allowedLabels)
				}
			}
		}
		slices.Sort(labels)
		switch want, ok := docs[name]; {
		case !ok:
			t.Errorf("%s is not in docs/metrics.md", name)
		case !slices.Equal(want, labels):
			t.Errorf("docs/metrics.md gives %s the labels %v, it has %v", name, want, labels)
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_HISTOGRAM:
			if !strings.HasSuffix(name, "_seconds") {
				t.Errorf("histogram %s is not in seconds", name)
			}
		case dto.MetricType_GAUGE:
			if strings.HasSuffix(name, "_total") {
				t.Errorf("gauge %s ends in _total, a counter's suffix", name)
			}
		}
	}
	for name := range docs {
		if !seen[name] {
			t.Errorf("docs/metrics.md lists %s, which breakwater does not export", name)
		}
	}
}

// docRow matches a row of a metrics table in docs/metrics.md: the metric,
// then its labels.
var docRow = regexp.MustCompile("^\\| `(breakwater_[a-z_]+)` \\|([^|]*)\\|")

// documentedMetrics reads docs/metrics.md's tables: each breakwater metric
// with its labels, sorted.
func documentedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		labels := []string{}
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" {
				labels = append(labels, l)
			}
		}
		slices.Sort(labels)
		out[m[1]] = labels
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md lists no metric")
	}
	return out
}
