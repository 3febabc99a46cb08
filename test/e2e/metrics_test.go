//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
	"breakwater/test/harness"
)

// TestMetricsAfterDockerPull pulls Debian 12 with docker through
// breakwater, scrapes /metrics without credentials as Prometheus does,
// and after breakwater stops finds the pull in the stored hourly
// statistics the dashboard draws.
func TestMetricsAfterDockerPull(t *testing.T) {
	if direct() {
		t.Log("direct mode has no breakwater to scrape; checking nothing")
		return
	}
	s := newStack(t, harness.AuthToken, "BREAKWATER_AUTH_ANONYMOUS_PULL=true")
	deb := harness.DebianImage(t, harness.OCI)
	s.up.Push(t, "library/debian", "12", deb)
	var blobBytes int64
	layers, err := deb.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		blobBytes += n
	}

	docker := harness.StartDockerd(t, harness.DockerdOptions{Mirrors: []string{"http://" + s.host}})
	docker.Pull(t, s.ref("library/debian", "12"), "")

	resp, err := http.Get(s.bw.URL + "/metrics")
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
	if strings.Contains(string(body), "debian") {
		t.Errorf("/metrics names the repository:\n%s", body)
	}
	sum := func(name string, labels map[string]string) float64 {
		var v float64
		for _, m := range families[name].GetMetric() {
			match := true
			for k, want := range labels {
				found := false
				for _, p := range m.GetLabel() {
					found = found || (p.GetName() == k && p.GetValue() == want)
				}
				match = match && found
			}
			if match {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		return v
	}
	if got := sum("breakwater_pulls_total", map[string]string{"upstream": "docker.io"}); got < 1 {
		t.Errorf("pulls = %v, want docker's pull counted", got)
	}
	if got := sum("breakwater_cache_served_bytes_total", map[string]string{"source": "upstream"}); got < float64(blobBytes) {
		t.Errorf("bytes served from upstream = %v, want at least the layers' %d", got, blobBytes)
	}
	if got := sum("breakwater_http_requests_total", map[string]string{"route": "blob", "code": "200"}); got < float64(len(layers)) {
		t.Errorf("blob requests answered 200 = %v, want at least %d", got, len(layers))
	}
	if got := sum("breakwater_upstream_requests_total", map[string]string{"upstream": "docker.io"}); got < 1 {
		t.Errorf("upstream requests = %v, want some", got)
	}
	if got := sum("breakwater_upstream_up", map[string]string{"upstream": "docker.io"}); got != 1 {
		t.Errorf("upstream up = %v, want 1", got)
	}

	// Stopping writes what was counted; the store has it, by hour.
	s.bw.Stop(t)
	meta, err := sqlite.Open(filepath.Join(s.bw.DataDir, "meta.db"))
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
	if total.Pulls < 1 || total.BytesFromUpstream < blobBytes || total.CacheMisses < int64(len(layers)) {
		t.Errorf("stored statistics = %+v; want the pull, its %d layer bytes and %d misses", total, blobBytes, len(layers))
	}
}
