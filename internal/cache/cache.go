// Package cache is the pull-through part of breakwater: it resolves tags to
// digests (fresh, revalidated, or stale when the upstream fails), fills each
// manifest and blob from the upstream once however many clients wait for it,
// streams a cold blob to every waiter while it is being written, and commits
// bytes to the store only after they match their digest.
//
// The cache keeps no state a replica must agree on in memory: fills in
// flight, the short negative cache and the access-time debounce are all
// allowed to be lost.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// Upstream is what the cache needs of a remote registry; *upstream.Client
// implements it. Errors wrap oci sentinels as upstream.Client documents.
type Upstream interface {
	Name() string
	Manifest(ctx context.Context, repo string, ref oci.Reference) ([]byte, oci.Descriptor, error)
	HeadManifest(ctx context.Context, repo string, ref oci.Reference) (oci.Descriptor, error)
	Blob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error)
	Tags(ctx context.Context, repo string) ([]string, error)
	Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]byte, error)
}

// Repo is a repository as breakwater knows it: which upstream serves it and
// its path there. Its canonical name, Upstream + "/" + Path, keys the store.
type Repo struct {
	Upstream string
	Path     string
}

// String returns the canonical name.
func (r Repo) String() string { return r.Upstream + "/" + r.Path }

// Defaults for the zero values of Options.
const (
	DefaultTagMaxAge   = 5 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	DefaultFillTimeout = time.Hour
	// DefaultRevalidateTimeout is short because a client waits for the
	// revalidation of a tag that could be served from the cache at once.
	DefaultRevalidateTimeout = 5 * time.Second
	DefaultUnhealthyFor      = 30 * time.Second
	// DefaultMaxBlobSize is far above real layers (Docker Hub's largest
	// run to tens of GiB) and far below what fills a disk by surprise.
	DefaultMaxBlobSize = 64 << 30
	// DefaultNegativeSize bounds the negative cache; a flood of requests
	// for names that do not exist must not grow memory without limit.
	DefaultNegativeSize = 10000
)

// Options configure a Cache.
type Options struct {
	// Upstreams by name.
	Upstreams map[string]Upstream
	Blobs     store.Blobs
	Meta      store.Meta
	// TagMaxAge is how long a tag's digest is used without asking the
	// upstream (default 5m). Past it the tag is revalidated with a HEAD.
	TagMaxAge time.Duration
	// RevalidateTimeout bounds that HEAD, the upstream client's retries
	// included (default 5s); when it runs out, the cached digest is served
	// stale. A first pull has nothing to fall back on and gets the
	// upstream client's full timeout and retries instead.
	RevalidateTimeout time.Duration
	// UnhealthyFor is how long, after a revalidation failed, the same
	// upstream's cached tags are served stale without asking it (default
	// 30s), so a hanging upstream costs one wait, not one per request.
	UnhealthyFor time.Duration
	// NegativeTTL is how long "the upstream has no such name or tag" is
	// remembered (default 30s).
	NegativeTTL time.Duration
	// NegativeSize is how many negative answers are remembered at most
	// (default 10000).
	NegativeSize int
	// MaxBlobSize is the most bytes a blob may have (default 64 GiB). A
	// blob the upstream declares larger is refused before its body is
	// read; one without a Content-Length fails its fill once it grows
	// past the limit, so a hostile upstream cannot fill the disk before
	// the digest check would catch it.
	MaxBlobSize int64
	// FillTimeout bounds one fill of a blob or manifest from the upstream,
	// which outlives the request that started it (default 1h).
	FillTimeout time.Duration
	Logger      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Cache is safe for concurrent use. Close it to stop fills in flight.
type Cache struct {
	opts Options
	log  *slog.Logger

	// flights coalesces manifest fetches per repository and reference.
	flights singleflight.Group
	neg     *negative
	touched *toucher
	health  *health

	// mu guards fills, the blob fills in flight keyed by fillKey.
	mu    sync.Mutex
	fills map[string]*fill

	// closing is cancelled by Close; fills and manifest fetches derive
	// their contexts from the request's values but stop with it.
	closing context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup

	// joinedFlight, when set by a test, is called once a caller waits
	// for a shared manifest fetch.
	joinedFlight func(key string)
	// missedBlob, when set by a test, is called once a caller found a
	// blob missing from the store, before it looks for a fill.
	missedBlob func()
}

// New returns a Cache.
func New(opts Options) *Cache {
	if opts.TagMaxAge <= 0 {
		opts.TagMaxAge = DefaultTagMaxAge
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	if opts.NegativeSize <= 0 {
		opts.NegativeSize = DefaultNegativeSize
	}
	if opts.FillTimeout <= 0 {
		opts.FillTimeout = DefaultFillTimeout
	}
	if opts.MaxBlobSize <= 0 {
		opts.MaxBlobSize = DefaultMaxBlobSize
	}
	if opts.RevalidateTimeout <= 0 {
		opts.RevalidateTimeout = DefaultRevalidateTimeout
	}
	if opts.UnhealthyFor <= 0 {
		opts.UnhealthyFor = DefaultUnhealthyFor
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	closing, stop := context.WithCancel(context.Background())
	return &Cache{
		opts:    opts,
		log:     log,
		neg:     newNegative(opts.NegativeTTL, opts.NegativeSize, opts.Now),
		touched: newToucher(opts.Meta, opts.Now, log),
		health:  newHealth(opts.UnhealthyFor, opts.Now),
		fills:   make(map[string]*fill),
		closing: closing,
		stop:    stop,
	}
}

// Close stops the fills in flight, whose waiters see an error, and waits for
// them to clean up. It does not close the stores.
func (c *Cache) Close() error {
	// Under mu, so that no fill is added to wg once Wait may have begun.
	c.mu.Lock()
	c.stop()
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Manifest is a manifest's bytes, verbatim as the upstream sent them.
type Manifest struct {
	oci.Descriptor
	Body []byte
	// Hit is true when no upstream request was made.
	Hit bool
	// Stale is true when the upstream failed and a cached tag was used.
	Stale bool
}

// Blob is a blob ready to serve. Exactly one of File and Stream is set: File
// for a blob already in the store (an *os.File for the filesystem backend,
// so it can be sent with sendfile), Stream for a cold blob read while it is
// being filled. Stream fails with an error if the fill fails verification.
type Blob struct {
	// Size is the blob's size; -1 for a Stream whose upstream sent no
	// Content-Length.
	Size   int64
	File   io.ReadSeekCloser
	Stream io.ReadCloser
	Hit    bool
}

// Close releases whichever of File and Stream is set.
func (b *Blob) Close() error {
	if b.File != nil {
		return b.File.Close()
	}
	if b.Stream != nil {
		return b.Stream.Close()
	}
	return nil
}

// Catalog lists cached repositories' canonical names after last, at most n.
func (c *Cache) Catalog(ctx context.Context, last string, n int) ([]string, error) {
	repos, err := c.opts.Meta.Repositories(ctx, last, n)
	if err != nil {
		return nil, fmt.Errorf("list cached repositories: %w", err)
	}
	return repos, nil
}

// upstream returns the upstream serving repo.
func (c *Cache) upstream(repo Repo) (Upstream, error) {
	up, ok := c.opts.Upstreams[repo.Upstream]
	if !ok {
		return nil, fmt.Errorf("find upstream %q: not configured: %w", repo.Upstream, oci.ErrNameUnknown)
	}
	return up, nil
}

// detach returns a context for work shared by several requests: it keeps
// the values of ctx (request IDs for logs) but not its cancellation, ends
// after FillTimeout, and ends when the cache closes.
func (c *Cache) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.FillTimeout)
	stop := context.AfterFunc(c.closing, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// isNotFound reports whether err is the upstream's authoritative answer
// that it has no such thing, as opposed to a failure to ask.
func isNotFound(err error) bool {
	return errors.Is(err, oci.ErrManifestUnknown) ||
		errors.Is(err, oci.ErrNameUnknown) ||
		errors.Is(err, oci.ErrBlobUnknown)
}
