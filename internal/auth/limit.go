package auth

import (
	"fmt"
	"sync"
	"time"
)

// maxLimiterKeys bounds the limiter's memory: a flood of made-up user
// names evicts the oldest entries rather than growing without end.
const maxLimiterKeys = 10000

// RateLimitError is the error of a refused attempt; it matches
// ErrRateLimited with errors.Is.
type RateLimitError struct {
	retryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: try again in %s", ErrRateLimited, e.RetryAfter())
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// RetryAfter is how long until the next attempt may be made, rounded up
// to whole seconds for a Retry-After header.
func (e *RateLimitError) RetryAfter() time.Duration {
	d := e.retryAfter.Truncate(time.Second)
	if d < e.retryAfter || d <= 0 {
		d += time.Second
	}
	return d
}

// limiter counts failures per key in a sliding window. It lives in
// memory: each replica limits on its own.
type limiter struct {
	limit  int
	window time.Duration
	max    int

	mu   sync.Mutex
	keys map[string][]time.Time // failure times, oldest first, within window
}

func newLimiter(limit int, window time.Duration, max int) *limiter {
	return &limiter{limit: limit, window: window, max: max, keys: map[string][]time.Time{}}
}

// limitKey keys the limiter by client and user, so one client guessing
// one user's password does not lock that user out for everyone else.
func limitKey(client, user string) string { return client + "\x00" + user }

// recent drops the failures of key that left the window, and returns the rest.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.keys[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.keys, key)
		return nil
	}
	l.keys[key] = ts
	return ts
}

// check returns a *RateLimitError when key has failed limit times within
// the window.
func (l *limiter) check(key string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(key, now)
	if len(ts) < l.limit {
		return nil
	}
	return &RateLimitError{retryAfter: ts[len(ts)-l.limit].Add(l.window).Sub(now)}
}

// fail records a failure of key at now.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.recent(key, now)
	if ts == nil && len(l.keys) >= l.max {
		l.evict(now)
	}
	ts = append(ts, now)
	if len(ts) > l.limit {
		ts = ts[len(ts)-l.limit:] // older ones no longer decide anything
	}
	l.keys[key] = ts
}

// evict makes room: first every key whose failures left the window, then,
// if all are recent, the key with the oldest latest failure.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k := range l.keys {
		ts := l.recent(k, now)
		if ts == nil {
			continue
		}
		if last := ts[len(ts)-1]; oldest == "" || last.Before(oldestAt) {
			oldest, oldestAt = k, last
		}
	}
	if len(l.keys) >= l.max && oldest != "" {
		delete(l.keys, oldest)
	}
}

// reset forgets key's failures after a success.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}
