package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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

	m.SetVulnDBUpdated(func(context.Context) (map[string]time.Time, error) {
		return map[string]time.Time{"osv": now.Add(-90 * time.Second)}, nil
	})
	if got, _ := m.Value("breakwater_vulndb_age_seconds", map[string]string{"source": "osv"}); got != 90 {
		t.Errorf("vulndb age = %v, want 90", got)
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "breakwater_upstream_up{upstream=\"ghcr\"} 0") {
		t.Errorf("/metrics = %d:\n%s", rec.Code, rec.Body.String())
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
	m.ServedBytes("ghcr", SourceUpstream, 9)
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
