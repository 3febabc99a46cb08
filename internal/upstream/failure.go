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
	// answered is when the remote last gave an answer a request could
	// use, a not-found included; guarded by mu.
	answered time.Time
}

// note records the outcome of a request: an answer (success, or the
// remote saying something does not exist, which is a normal answer), or
// err as the last failure, unless the caller gave up. The refusal a
// request sent without credentials on purpose (Ping) expects is neither.
func (f *failureRecorder) note(ctx context.Context, err error, now time.Time) {
	if ctx.Value(noAuthKey) != nil {
		return
	}
	answered := err == nil || IsNotFound(err) ||
		errors.Is(err, oci.ErrManifestUnknown) || errors.Is(err, oci.ErrBlobUnknown) || errors.Is(err, oci.ErrNameUnknown)
	if !answered && ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if answered {
		f.answered = now
		return
	}
	f.msg, f.at = err.Error(), now
}

func (f *failureRecorder) lastAnswer() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.answered
}

func (f *failureRecorder) get() (string, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg, f.at
}
