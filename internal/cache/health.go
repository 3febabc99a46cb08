package cache

import (
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
