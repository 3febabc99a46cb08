// Package when reads the times operators type into a flag, a query
// parameter or a form field, so the CLI, the API and the dashboard take
// the same forms: a duration (720h), a number of days (30d), a date
// (2027-01-31, midnight UTC), a date and minute as a browser's
// datetime-local field sends it (2027-01-31T09:30, UTC), or an RFC 3339
// time.
package when

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Max bounds a duration: a hundred years is further than any filter or
// expiry means, and short of where time.Duration overflows.
const Max = 100 * 365 * 24 * time.Hour

// Forms names what Parse takes, for error messages.
const Forms = "a duration (24h), a number of days (7d), a date (2026-03-01) or a time (2026-03-01T12:00:00Z)"

// SinceForms names what Since takes, for error messages.
const SinceForms = "a date (2026-03-01), a time (2026-03-01T12:00:00Z) or a duration back from now (24h, 7d) of up to 100 years"

// Parse reads s as a duration or a point in time: when ok, t is zero for
// a duration only. Callers bound a duration themselves, Max or less.
func Parse(s string) (d time.Duration, t time.Time, ok bool) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, time.Time{}, true
	}
	if days, found := strings.CutSuffix(s, "d"); found {
		// Beyond maxDays the duration would overflow.
		const maxDays = math.MaxInt64 / int64(24*time.Hour)
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > maxDays || n < -maxDays {
			return 0, time.Time{}, false
		}
		return time.Duration(n) * 24 * time.Hour, time.Time{}, true
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.IsZero() {
				// 0001-01-01 is Go's zero time, which reads as "no
				// bound" and "a duration"; a nanosecond on keeps it a time.
				t = t.Add(time.Nanosecond)
			}
			return 0, t, true
		}
	}
	return 0, time.Time{}, false
}

// Since reads a since or until bound: empty is the zero time, a point in
// time is itself, and a duration counts back from now.
func Since(s string, now time.Time) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	d, t, ok := Parse(s)
	switch {
	case !ok || d < 0 || d > Max:
		return time.Time{}, fmt.Errorf("%q is not %s", s, SinceForms)
	case t.IsZero():
		return now.Add(-d), nil
	}
	return t, nil
}
