package when

import (
	"strings"
	"testing"
	"time"
)

func TestSince(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"  ", time.Time{}, false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"0d", now, false},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-03-01T12:00:00Z", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), false},
		{"2026-03-01T12:00:00+02:00", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), false},
		{"2026-03-01T09:30", time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC), false},
		{"-1h", time.Time{}, true},
		{"-2d", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"7 d", time.Time{}, true},
		{"9999999h", time.Time{}, true},
		{"36501d", time.Time{}, true},
		{"99999999999999999999d", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
		{"0001-01-01", time.Time{}.Add(time.Nanosecond), false},
		{"0001-01-01T00:00:00Z", time.Time{}.Add(time.Nanosecond), false},
	}
	for _, tt := range tests {
		got, err := Since(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("Since(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "up to 100 years") {
			t.Errorf("Since(%q) error %q does not say what it takes", tt.in, err)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in string
		d  time.Duration
		t  time.Time
		ok bool
	}{
		{"720h", 720 * time.Hour, time.Time{}, true},
		{"30d", 30 * 24 * time.Hour, time.Time{}, true},
		{"-1h", -time.Hour, time.Time{}, true},
		{"2027-01-31", 0, time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC), true},
		{"36500d", Max, time.Time{}, true},
		{"36501d", 36501 * 24 * time.Hour, time.Time{}, true},
		{"99999999999999999999d", 0, time.Time{}, false},
		{"abc", 0, time.Time{}, false},
	}
	for _, tt := range tests {
		d, tm, ok := Parse(tt.in)
		if ok != tt.ok || (ok && (d != tt.d || !tm.Equal(tt.t))) {
			t.Errorf("Parse(%q) = %v, %v, %v; want %v, %v, %v", tt.in, d, tm, ok, tt.d, tt.t, tt.ok)
		}
	}
}
