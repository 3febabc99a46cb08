package cache

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// health is a small circuit breaker per upstream: once revalidating a tag
// failed, the upstream counts as down for a while, and its cached tags are
// served stale at once instead of each request waiting out the
// revalidation budget again. It lives in memory only; losing it costs one
// more wait. It is safe for concurrent use.
type health struct {
	pause time.Duration
	now   func() time.Time

	// mu guards downUntil, keyed by upstream name.
	mu        sync.Mutex
	downUntil map[string]time.Time
}

func newHealth(pause time.Duration, now func() time.Time) *health {
	return &health{pause: pause, now: now, downUntil: make(map[string]time.Time)}
}

// down reports whether upstream failed within the pause.
func (h *health) down(upstream string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.downLocked(upstream)
}

func (h *health) downLocked(upstream string) bool {
	until, ok := h.downUntil[upstream]
	if ok && !h.now().Before(until) {
		delete(h.downUntil, upstream)
		return false
	}
	return ok
}

// fail marks upstream down for the pause and reports whether it was up
// before, so that the change is logged once and not by every request.
func (h *health) fail(upstream string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	wasDown := h.downLocked(upstream)
	h.downUntil[upstream] = h.now().Add(h.pause)
	return !wasDown
}

// ok marks upstream up: it just answered.
func (h *health) ok(upstream string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.downUntil, upstream)
}

// until returns when upstream counts as up again, zero if it does now.
func (h *health) until(upstream string) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.downLocked(upstream) {
		return time.Time{}
	}
	return h.downUntil[upstream]
}

// UpstreamHealth is the breaker state of one upstream.
type UpstreamHealth struct {
	Name string
	// Healthy is false for UnhealthyFor after a revalidation failed;
	// meanwhile its cached tags are served stale without asking it.
	Healthy bool
	// DownUntil is when it is asked again; zero while Healthy.
	DownUntil time.Time
}

// Upstreams returns the breaker state of every configured upstream,
// ordered by name, for metrics and the admin views.
func (c *Cache) Upstreams() []UpstreamHealth {
	out := make([]UpstreamHealth, 0, len(c.opts.Upstreams))
	for name := range c.opts.Upstreams {
		until := c.health.until(name)
		out = append(out, UpstreamHealth{Name: name, Healthy: until.IsZero(), DownUntil: until})
	}
	slices.SortFunc(out, func(a, b UpstreamHealth) int { return strings.Compare(a.Name, b.Name) })
	return out
}
