package ui

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"breakwater/internal/admin"
	"breakwater/internal/policy"
)

// TestUpstreamsTable renders the overview's upstream table for states a
// hermetic server does not reach easily: a tripped breaker, a refused
// pull with its reset time, and an upstream failing with no breaker.
func TestUpstreamsTable(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	ups := []admin.UpstreamStatus{
		{Name: "docker.io", Default: true, Healthy: false, DownUntil: at, LastError: "dial tcp: <refused>", LastErrorAt: at,
			RateLimit: &admin.RateLimit{Limit: 100, Remaining: 0, WindowSeconds: 21600, ResetAt: at.Add(time.Hour)}},
		{Name: "ghcr.io", Healthy: true},
		{Name: "quay.io", Healthy: false, LastError: "no route", LastErrorAt: at},
	}
	var buf bytes.Buffer
	if err := mustParsePages()["overview"].ExecuteTemplate(&buf, "upstreams", ups); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		"docker.io <small>(default)</small>", "down</span> until 2026-01-02 03:04 UTC",
		"0 of 100 per 6h00m; refused until 2026-01-02 04:04 UTC",
		"dial tcp: &lt;refused&gt; (2026-01-02 03:04 UTC)",
		"ghcr.io", `<span class="ok">up</span>`, "not reported", "none",
		`quay.io`, `<span class="bad">failing</span>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("upstream table lacks %q:\n%s", want, html)
		}
	}
}

func TestAxes(t *testing.T) {
	for _, tt := range []struct {
		ax   axis
		v    float64
		want float64
	}{
		{countAxis, 0, 4}, {countAxis, 1, 4}, {countAxis, 3, 4}, {countAxis, 7, 8}, {countAxis, 9, 12},
		{countAxis, 10, 12}, {countAxis, 37, 40}, {countAxis, 90, 100}, {countAxis, 1234, 2000},
		{bytesAxis, 0, 4}, {bytesAxis, 5000, 8192}, {bytesAxis, 6 << 20, 8 << 20}, {bytesAxis, 3 << 30, 4000 << 20},
		{bytesAxis, 5 << 30, 8 << 30}, {bytesAxis, 700 << 10, 800 << 10},
		{percentAxis, 0.3, 1},
	} {
		top := tt.ax.top(tt.v)
		if top != tt.want {
			t.Errorf("top(%v) = %v, want %v", tt.v, top, tt.want)
		}
		if top < tt.v {
			t.Errorf("top(%v) = %v is below the value", tt.v, top)
		}
		for i := 0; i <= 4; i++ {
			if l := tt.ax.tick(top, top*float64(i)/4); strings.Contains(l, ".") {
				t.Errorf("top(%v): tick %d reads %q", tt.v, i, l)
			}
		}
	}
}

// TestLineGaps: hours without data break a line instead of dropping it
// to zero, and each value gets a dot so a lone hour shows.
func TestLineGaps(t *testing.T) {
	nan := math.NaN()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := lineChart("rate", start, time.Hour, percentAxis,
		chartSeries{Name: "hit rate", Color: "#000", Values: []float64{0.5, 1, nan, 0.25, nan, nan, 0}})
	if len(c.Lines) != 1 || strings.Count(c.Lines[0].Points, ",") != 2 {
		t.Errorf("lines = %+v, want one segment of the first two hours", c.Lines)
	}
	if len(c.Dots) != 4 {
		t.Errorf("%d dots, want one per hour with a value (4)", len(c.Dots))
	}
	if c.Empty {
		t.Error("a chart with a 0% hour is not empty")
	}
	if c := lineChart("rate", start, time.Hour, percentAxis, chartSeries{Values: []float64{nan, nan}}); !c.Empty || len(c.Lines)+len(c.Dots) != 0 {
		t.Errorf("a chart without values: empty %v, %d lines, %d dots", c.Empty, len(c.Lines), len(c.Dots))
	}
	if c := lineChart("pulls", start, time.Hour, countAxis, chartSeries{Values: []float64{0, 0, 0}}); !c.Empty || len(c.Dots) != 0 {
		t.Errorf("a count chart of zeros: empty %v, %d dots", c.Empty, len(c.Dots))
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"password must be at least 12 characters": "Password must be at least 12 characters.",
		"The token has ended.":                    "The token has ended.",
		" élan is missing ":                       "Élan is missing.",
		"is it there?":                            "Is it there?",
		"":                                        "",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPoliciesFromTheAPI parses the default set as GET /api/v1/policies
// writes it, so the JSON names and the YAML names cannot drift apart.
func TestPoliciesFromTheAPI(t *testing.T) {
	want := policy.Default()
	body, err := json.MarshalIndent(struct {
		Policies policy.Set `json:"policies"`
	}{want}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got, problems, err := parsePolicies(string(body))
	if err != nil || problems != nil {
		t.Fatalf("parse the API's answer: %v %q", err, problems)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Errorf("parsed policies differ:\n got %s\nwant %s", a, b)
	}
}
