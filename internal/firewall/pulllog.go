package firewall

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Audit actions of the pull log.
const (
	ActionPull       = "pull"
	ActionPullDenied = "pull-denied"
)

// ActorAnonymous is the actor of a pull by nobody authenticated.
const ActorAnonymous = "anonymous"

// Defaults of PullLogOptions.
const (
	DefaultPullBuffer   = 8192
	DefaultPullBatch    = 512
	DefaultPullInterval = time.Second
	// pullWriteTimeout bounds one batch write, so a stuck store cannot
	// hold Close forever.
	pullWriteTimeout = 30 * time.Second
	// dropWarnEvery spaces the warnings about dropped entries.
	dropWarnEvery = time.Minute
)

// PullLogOptions configure a PullLog.
type PullLogOptions struct {
	// Store receives the entries; required.
	Store  store.Firewall
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Buffer bounds the entries waiting to be written; a pull arriving
	// when it is full is dropped and counted.
	Buffer int
	// Batch is the most entries one write holds.
	Batch int
	// Interval is how long an entry waits at most for its batch.
	Interval time.Duration
}

// PullLog records every manifest GET the registry answers for an image as
// an audit entry: "pull" when served, "pull-denied" when withheld, with
// the user, the client's address, the repository, the digest served and
// the verdict it was answered by (Result). It is the registry's
// PullRecorder. Entries are buffered in memory and written in batches by
// one goroutine, so a warm pull waits for no write; Close writes what is
// left.
//
// It reads who pulled from WithRequester and the verdict from the
// firewall's gate through the request's context, so the registry handler
// must be wrapped with Requesters (or a handler calling WithRequester).
// A pull no gate decided (the firewall off everywhere) has result "off".
type PullLog struct {
	opts    PullLogOptions
	log     *slog.Logger
	entries chan store.AuditEntry
	done    chan struct{}

	// mu guards closed, so no entry is sent once Close closed entries.
	mu     sync.RWMutex
	closed bool

	dropped  atomic.Uint64
	lastWarn atomic.Int64 // unix nanos of the last warning about drops
}

// NewPullLog starts a pull log writing to opts.Store.
func NewPullLog(opts PullLogOptions) (*PullLog, error) {
	if opts.Store == nil {
		return nil, errors.New("new pull log: Store is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultPullBuffer
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultPullBatch
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultPullInterval
	}
	l := &PullLog{
		opts:    opts,
		log:     telemetry.OrDiscard(opts.Logger),
		entries: make(chan store.AuditEntry, opts.Buffer),
		done:    make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// Pulled records one answered manifest GET; indexes are not logged, as
// the client's next request is for the platform manifest it runs.
func (l *PullLog) Pulled(ctx context.Context, repo cache.Repo, ref oci.Reference, m *cache.Manifest, err error) {
	if m == nil || oci.IsIndex(m.MediaType) {
		return
	}
	who, _ := RequesterOf(ctx)
	o := outcomeOf(ctx)
	e := store.AuditEntry{
		At:     l.opts.Now(),
		Actor:  who.User,
		Action: ActionPull,
		Repo:   repo.String(),
		Digest: m.Digest,
		Client: who.Address,
		Result: o.result,
	}
	if e.Actor == "" {
		e.Actor = ActorAnonymous
	}
	if err != nil {
		e.Action = ActionPullDenied
	}
	if e.Result == "" {
		e.Result = ResultOff
		if err != nil {
			e.Result = "error"
		}
	}
	if ref.Tag != "" {
		e.Details = "tag=" + ref.Tag
	}
	if o.waived {
		e.Details = joinDetails(e.Details, "waived=true")
	}
	l.add(e)
}

func joinDetails(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

// add queues e, or counts it dropped when the buffer is full or the log
// closed.
func (l *PullLog) add(e store.AuditEntry) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		select {
		case l.entries <- e:
			return
		default:
		}
	}
	l.drop(1)
}

// drop counts n lost entries and warns at most once per dropWarnEvery.
func (l *PullLog) drop(n int) {
	total := l.dropped.Add(uint64(n))
	now := l.opts.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(dropWarnEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("pull log entries dropped", telemetry.KeyDropped, total)
}

// Dropped returns how many entries were lost: buffer full, or a failed
// write.
func (l *PullLog) Dropped() uint64 { return l.dropped.Load() }

// run writes batches until entries is closed and drained.
func (l *PullLog) run() {
	defer close(l.done)
	ticker := time.NewTicker(l.opts.Interval)
	defer ticker.Stop()
	batch := make([]store.AuditEntry, 0, l.opts.Batch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), pullWriteTimeout)
		defer cancel()
		if err := l.opts.Store.AppendAudits(ctx, batch); err != nil {
			l.log.Warn("write pull log", telemetry.KeyError, err, telemetry.KeyDropped, len(batch))
			l.drop(len(batch))
		}
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-l.entries:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= l.opts.Batch {
				flush()
			}
		case <-ticker.C:
			flush()
		}
	}
}

// Close writes the entries still buffered and stops the writer. Pulls
// answered after it are dropped. Call it after the HTTP server stopped and
// before the store closes.
func (l *PullLog) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.entries)
	}
	l.mu.Unlock()
	<-l.done
	return nil
}
