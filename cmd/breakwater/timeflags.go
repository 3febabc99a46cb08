package main

import (
	"fmt"
	"strings"
	"time"

	"breakwater/internal/when"
)

// parseExpiry reads --expires: empty is no expiry; a duration is a
// lifetime from now (ttl), a date or time the moment it ends (until),
// kept exactly. Either must end in the future, within when.Max.
func parseExpiry(s string, now time.Time) (ttl time.Duration, until time.Time, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, time.Time{}, nil
	}
	ttl, until, ok := when.Parse(s)
	if !ok {
		return 0, time.Time{}, fmt.Errorf("--expires: %q is not %s, up to 100 years", s, when.Forms)
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
	case left > when.Max:
		return 0, time.Time{}, fmt.Errorf("--expires: %s is more than 100 years away; leave --expires out for no expiry", s)
	}
	return ttl, until, nil
}
