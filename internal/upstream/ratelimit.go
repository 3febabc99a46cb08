package upstream

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rateRecorder keeps the last quota the remote reported. It is safe for
// concurrent use.
type rateRecorder struct {
	mu sync.Mutex
	rl RateLimit // guarded by mu
}

// record stores the RateLimit-Limit and RateLimit-Remaining headers of h, if
// present. Docker Hub sends them as "100;w=21600": a count, then the window
// in seconds.
func (r *rateRecorder) record(h http.Header, now time.Time) {
	limit, window, okLimit := parseQuota(h.Get("RateLimit-Limit"))
	remaining, _, okRemaining := parseQuota(h.Get("RateLimit-Remaining"))
	if !okLimit && !okRemaining {
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if okLimit {
		r.rl.Limit = limit
		r.rl.Window = window
	}
	if okRemaining {
		r.rl.Remaining = remaining
	}
	r.rl.Known = true
	r.rl.UpdatedAt = now
}

// refused records when a remote that answered 429 takes requests again.
func (r *rateRecorder) refused(resetAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rl.ResetAt = resetAt
}

func (r *rateRecorder) get() RateLimit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rl
}

// parseQuota reads "N" or "N;w=SECONDS".
func parseQuota(v string) (n int, window time.Duration, ok bool) {
	count, params, _ := strings.Cut(v, ";")
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil || n < 0 {
		return 0, 0, false
	}
	for _, p := range strings.Split(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if secs, err := strconv.Atoi(val); k == "w" && err == nil && secs > 0 {
			window = time.Duration(secs) * time.Second
		}
	}
	return n, window, true
}
