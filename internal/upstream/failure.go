package upstream

import (
	"context"
	"errors"
	"sync"
	"time"

	"breakwater/internal/oci"
)

// failureRecorder keeps the last request that failed for good, for the
// admin's view of an upstream. It is safe for concurrent use; its zero
// value is ready.
type failureRecorder struct {
	mu  sync.Mutex
	msg string // guarded by mu
	at  time.Time
}

// note records err unless it is nil, the remote's answer that something
// does not exist (a normal answer, not a failure), the caller giving up,
// or the refusal a request sent without credentials on purpose (Ping)
// expects.
func (f *failureRecorder) note(ctx context.Context, err error, now time.Time) {
	if err == nil || ctx.Err() != nil || ctx.Value(noAuthKey) != nil || IsNotFound(err) ||
		errors.Is(err, oci.ErrManifestUnknown) || errors.Is(err, oci.ErrBlobUnknown) || errors.Is(err, oci.ErrNameUnknown) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msg, f.at = err.Error(), now
}

func (f *failureRecorder) get() (string, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg, f.at
}
