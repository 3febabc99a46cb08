package upstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/upstream/upstreamtest"
)

// newClient returns a client of r with fast retries whose waits are
// recorded instead of slept.
func newClient(t *testing.T, r *upstreamtest.Remote, opts Options) (*Client, *waitLog) {
	t.Helper()
	opts.URL = r.URL
	if opts.Name == "" {
		opts.Name = "test"
	}
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	waits := &waitLog{}
	c.backoff = time.Millisecond
	c.sleep = waits.sleep
	return c, waits
}

// waitLog records the waits between attempts. It is safe for concurrent use.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waits = append(w.waits, d)
	return ctx.Err()
}

func (w *waitLog) get() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration{}, w.waits...)
}

// fakeClock is a clock tests move by hand. It is safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func tagRef(tag string) oci.Reference { return oci.Reference{Tag: tag} }

const zeroDigest = digest.Digest("sha256:0000000000000000000000000000000000000000000000000000000000000000")
