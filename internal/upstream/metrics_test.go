package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"breakwater/internal/telemetry"
	"breakwater/internal/upstream/upstreamtest"
)

// TestMetrics checks what a request leaves in the metrics and in the
// client's last error: every attempt counted with its status, 5xx and no
// answer as errors, 429 as rate limited, a 404 as neither.
func TestMetrics(t *testing.T) {
	tests := []struct {
		name       string
		failures   int64
		status     int
		header     string
		closed     bool // the remote is gone: no answer at all
		wantCodes  map[string]float64
		wantErrors float64
		wantLimit  float64
		wantFailed bool // LastError set
	}{
		{name: "5xx then success", failures: 2, status: 503,
			wantCodes: map[string]float64{"503": 2, "200": 1}, wantErrors: 2},
		{name: "5xx for good", failures: 100, status: 500,
			wantCodes: map[string]float64{"500": 3}, wantErrors: 3, wantFailed: true},
		{name: "429 past the cap", failures: 100, status: 429, header: "3600",
			wantCodes: map[string]float64{"429": 1}, wantLimit: 1, wantFailed: true},
		{name: "404 is an answer", failures: 100, status: 404,
			wantCodes: map[string]float64{"404": 1}},
		{name: "no answer", closed: true,
			wantCodes: map[string]float64{"error": 3}, wantErrors: 3, wantFailed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, _ := upstreamtest.FailFirst(tt.failures, tt.status, tt.header, upstreamtest.IsManifest)
			r := upstreamtest.NewRemote(t, mw)
			r.PushImage(t, "app", "1")
			if tt.closed {
				r.Server.Close()
			}
			m := telemetry.NewMetrics()
			c, _ := newClient(t, r, Options{Name: "hub", Retries: 2, Metrics: m})

			before := time.Now()
			c.HeadManifest(t.Context(), "app", tagRef("1"))

			for code, want := range tt.wantCodes {
				got := value(t, m, "breakwater_upstream_requests_total", map[string]string{"upstream": "hub", "method": "HEAD", "code": code})
				if got != want {
					t.Errorf("requests with code %s = %v, want %v", code, got, want)
				}
			}
			if got := value(t, m, "breakwater_upstream_errors_total", map[string]string{"upstream": "hub"}); got != tt.wantErrors {
				t.Errorf("errors = %v, want %v", got, tt.wantErrors)
			}
			if got := value(t, m, "breakwater_upstream_rate_limited_total", map[string]string{"upstream": "hub"}); got != tt.wantLimit {
				t.Errorf("rate limited = %v, want %v", got, tt.wantLimit)
			}
			var total float64
			for _, n := range tt.wantCodes {
				total += n
			}
			if got := value(t, m, "breakwater_upstream_request_duration_seconds", map[string]string{"upstream": "hub"}); got != total {
				t.Errorf("durations observed = %v, want %v", got, total)
			}

			msg, at := c.LastError()
			if (msg != "") != tt.wantFailed || (tt.wantFailed && at.Before(before)) {
				t.Errorf("LastError = %q at %v; want set: %v", msg, at, tt.wantFailed)
			}
			if ans := c.LastAnswer(); ans.IsZero() != tt.wantFailed || (!tt.wantFailed && ans.Before(before)) {
				t.Errorf("LastAnswer = %v; want set: %v", ans, !tt.wantFailed)
			}
			if tt.status == 429 {
				if reset := c.RateLimit().ResetAt; reset.Before(before.Add(time.Hour - time.Minute)) {
					t.Errorf("RateLimit().ResetAt = %v, want about an hour after %v", reset, before)
				}
			}
		})
	}
}

// TestLastErrorSkipsCancellation: a caller giving up says nothing about
// the remote.
func TestLastErrorSkipsCancellation(t *testing.T) {
	r := upstreamtest.NewRemote(t)
	r.PushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.HeadManifest(ctx, "app", tagRef("1")); err == nil {
		t.Fatal("HeadManifest with a cancelled context succeeded")
	}
	if msg, _ := c.LastError(); msg != "" {
		t.Errorf("LastError after a cancelled request = %q, want none", msg)
	}
	if !strings.HasPrefix(c.URL(), "http://127.0.0.1") {
		t.Errorf("URL() = %q, want the remote's base URL", c.URL())
	}
}

// value reads a metric, ending the test if the registry cannot be read.
func value(t *testing.T, m *telemetry.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := m.Value(name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
