package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxExpiry bounds --expires as the API bounds a token's ttl_seconds.
const maxExpiry = 100 * 365 * 24 * time.Hour

// parseSpan reads the forms every time flag takes, so they all take the
// same ones: a duration (720h), a number of days (30d), a date
// (2027-01-31, meaning 00:00 UTC) or an RFC 3339 time. It returns the
// duration or else the time; ok is false for anything else.
func parseSpan(s string) (d time.Duration, t time.Time, ok bool) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, time.Time{}, true
	}
	if days, found := strings.CutSuffix(s, "d"); found {
		// Beyond ±maxDays the duration would overflow.
		const maxDays = math.MaxInt64 / int64(24*time.Hour)
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > maxDays || n < -maxDays {
			return 0, time.Time{}, false
		}
		return time.Duration(n) * 24 * time.Hour, time.Time{}, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return 0, t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return 0, t, true
	}
	return 0, time.Time{}, false
}

// parseWhen reads a --since or --until value: empty, a time, or a
// duration back from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	d, t, ok := parseSpan(s)
	switch {
	case !ok || d < 0:
		return time.Time{}, fmt.Errorf("%q is not a time (2026-03-01, 2026-03-01T12:00:00Z) or a duration back from now (24h, 7d)", s)
	case t.IsZero():
		return now.Add(-d), nil
	}
	return t, nil
}

// parseExpiry reads --expires: empty is no expiry; a duration is a
// lifetime from now (ttl), a date or time the moment it ends (until),
// kept exactly. Either must end in the future, within maxExpiry.
func parseExpiry(s string, now time.Time) (ttl time.Duration, until time.Time, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, time.Time{}, nil
	}
	ttl, until, ok := parseSpan(s)
	if !ok {
		return 0, time.Time{}, fmt.Errorf("--expires: %q is not a duration (720h), a number of days (30d), a date (2027-01-31) or an RFC 3339 time", s)
	}
	left := ttl
	if !until.IsZero() {
		left = until.Sub(now)
	}
	switch {
	case !until.IsZero() && left <= 0:
		return 0, time.Time{}, fmt.Errorf("--expires: %s is in the past; give a time in the future", s)
	case left <= 0:
		return 0, time.Time{}, fmt.Errorf("--expires: %s is not in the future", s)
	case left > maxExpiry:
		return 0, time.Time{}, fmt.Errorf("--expires: %s is more than 100 years away; leave --expires out for no expiry", s)
	}
	return ttl, until, nil
}
