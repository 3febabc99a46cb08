package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in    string
		ttl   time.Duration
		until time.Time
		err   string
	}{
		{in: ""},
		{in: "720h", ttl: 720 * time.Hour},
		{in: "30d", ttl: 30 * 24 * time.Hour},
		{in: " 30d ", ttl: 30 * 24 * time.Hour},
		{in: "2027-01-31", until: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-10T13:00:00Z", until: now.Add(time.Hour)},
		{in: "0s", err: "not in the future"},
		{in: "-1h", err: "not in the future"},
		{in: "-3d", err: "not in the future"},
		{in: "2026-03-01", err: "2026-03-01 is in the past"},
		{in: "2026-03-10T11:00:00Z", err: "is in the past"},
		{in: "36600d", err: "more than 100 years"},
		{in: "2200-01-01", err: "more than 100 years"},
		{in: "99999999999999d", err: "is not a duration (24h)"},
		{in: "xd", err: "is not a duration (24h)"},
		{in: "next week", err: "is not a duration (24h)"},
	}
	for _, tt := range tests {
		ttl, until, err := parseExpiry(tt.in, now)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "--expires: ") {
				t.Errorf("parseExpiry(%q) = %v, %v, %v; want an --expires error containing %q", tt.in, ttl, until, err, tt.err)
			}
			continue
		}
		if err != nil || ttl != tt.ttl || !until.Equal(tt.until) {
			t.Errorf("parseExpiry(%q) = %v, %v, %v; want %v, %v", tt.in, ttl, until, err, tt.ttl, tt.until)
		}
	}
}
