package cache

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Access times feed eviction, which needs minutes, not nanoseconds; writing
// one on every hit would put a metadata write on the hot path.
const (
	touchInterval = time.Minute
	// touchMax bounds the debounce map; clearing it costs one extra
	// write per digest served afterwards.
	touchMax = 10000
)

// toucher records access times in Meta at most once per touchInterval per
// digest. It is safe for concurrent use.
type toucher struct {
	meta store.Meta
	now  func() time.Time
	log  *slog.Logger

	// mu guards last.
	mu   sync.Mutex
	last map[digest.Digest]time.Time
}

func newToucher(meta store.Meta, now func() time.Time, log *slog.Logger) *toucher {
	return &toucher{meta: meta, now: now, log: log, last: make(map[digest.Digest]time.Time)}
}

// touch records that d was served now, unless it did so recently. A
// failure is logged: serving must not fail for want of an access time.
func (t *toucher) touch(ctx context.Context, d digest.Digest) {
	now := t.now()
	t.mu.Lock()
	if last, ok := t.last[d]; ok && now.Sub(last) < touchInterval {
		t.mu.Unlock()
		return
	}
	if len(t.last) >= touchMax {
		clear(t.last)
	}
	t.last[d] = now
	t.mu.Unlock()

	if err := t.meta.Touch(ctx, d, now); err != nil {
		t.log.Warn("record access time failed",
			telemetry.KeyDigest, d.String(),
			telemetry.KeyError, err)
	}
}
