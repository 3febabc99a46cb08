package firewall_test

import (
	"context"
	"testing"

	"breakwater/internal/firewall"
	"breakwater/internal/telemetry"
)

// TestMetrics pulls a clean image, one withheld and one audited, and
// checks the inspections, verdicts and statistics the firewall reported.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	m := telemetry.NewMetrics()
	e.start(testSettings(), func(o *firewall.Options) { o.Metrics = m })
	e.push("clean/app:1", image(t, cleanFiles, "amd64", "clean"))
	e.push("shown/deb:12", image(t, debianFiles, "amd64", "withheld"))
	e.push("audit/deb:12", image(t, debianFiles, "amd64", "audited"))

	wantStatus(t, "clean", e.manifest("GET", "clean/app", "1"), 200, "")
	wantStatus(t, "withheld", e.manifest("GET", "shown/deb", "12"), 403, "DENIED")
	wantStatus(t, "audited", e.manifest("GET", "audit/deb", "12"), 200, "")
	// A verdict stored is not made again.
	wantStatus(t, "withheld again", e.manifest("GET", "shown/deb", "12"), 403, "DENIED")

	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_firewall_inspections_total", map[string]string{"result": "ok"}, 3},
		{"breakwater_firewall_inspections_total", map[string]string{"result": "error"}, 0},
		{"breakwater_firewall_inspection_duration_seconds", nil, 3},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "allow", "policy": ""}, 1},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "quarantine", "policy": "cvss-8"}, 1},
		{"breakwater_firewall_verdicts_total", map[string]string{"result": "audit", "policy": "cvss-8"}, 1},
	}
	for _, tt := range tests {
		got, err := m.Value(tt.metric, tt.labels)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}

	var got telemetry.StatsCounts
	err := m.FlushStats(t.Context(), func(_ context.Context, ds []telemetry.StatsDelta) error {
		for _, d := range ds {
			if d.Upstream != "docker.io" {
				t.Errorf("statistics for upstream %q, want docker.io", d.Upstream)
			}
			got.Add(d.Counts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (telemetry.StatsCounts{Violations: 2, Quarantines: 1}); got != want {
		t.Errorf("statistics = %+v, want %+v", got, want)
	}
}
