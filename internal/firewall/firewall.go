// Package firewall decides, per image digest, whether breakwater serves an
// image: it inspects each new image once, matches what it installs against
// the vulnerability data, applies the policies, and keeps the verdicts,
// quarantine records, waivers and an audit log in the store.
//
// A *Firewall is the registry's Gate. Indexes pass (each platform manifest
// is judged when it is fetched). An image manifest with a stored verdict is
// served or withheld by it, with waivers read again on every request, so a
// release or delete made by another process on the same store (the CLI) is
// in force at once. An image without a verdict is inspected: concurrent
// first pulls of one image share one inspection, which runs detached from
// the requests and stores its verdict before any waiter is released. A pull
// waits up to Options.Wait; past it the client gets TOOMANYREQUESTS with a
// Retry-After while the inspection goes on.
//
// A withheld manifest answers 404 MANIFEST_UNKNOWN, or with the
// repository's show_reason 403 DENIED naming the policy and quarantine id
// (the error implements QuarantineID, which the registry sends as a
// header). A blob is served only when an image of its repository that may
// be served references it; a blob whose judged owners are all withheld, and
// in quarantine mode a blob no judged image references, is 404
// BLOB_UNKNOWN, so knowing a digest is no way around a verdict. Manifests
// that are not images (signatures, attestations without tar layers) are
// served without inspection; their blobs are served unless an owning image
// is withheld.
//
// Until the vulnerability data is loaded the firewall is not Ready:
// quarantine-mode repositories answer 503 UNAVAILABLE for images without a
// verdict, audit-mode ones serve them and record "not-inspected".
//
// Wiring, as a server does it (meta is the *sqlite.Meta, which implements
// both store.Meta and store.Firewall):
//
//	fw, err := firewall.New(firewall.Options{
//		Meta: meta, Store: meta, Blobs: blobs,
//		Cache: cacheInstance, VulnDB: db,
//		Policies: cfg.Policies, Settings: cfg.Firewall,
//		Wait: 30 * time.Second, Logger: log,
//	})
//	handler := registry.New(cacheInstance, router, registry.Options{Gate: fw})
//	server := firewall.Requesters(handler) // records who asked first
//	defer fw.Close()                       // after the HTTP server stopped
//
// A stored verdict is what the image deserves; whether it is withheld is
// decided per request under the settings in force, so a repository
// switched to audit (or fail open) serves what it withheld. Verdicts change
// only through Reevaluate, which a server calls at start and after each
// refresh of the vulnerability data, since policies may have changed too.
//
// A command that only administers quarantine (list, show, release, delete,
// note) may leave Cache and VulnDB nil; the Gate methods then fail.
//
// A Firewall is safe for concurrent use.
//
// Files: firewall.go holds the options and client errors, gate.go the
// registry's gate, judge.go the decision of a new image, inspect.go and
// manifest.go what is read of it, reevaluate.go judging again, admin.go the
// records, releases and audit log, verdict.go and evidence.go what is kept.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"breakwater/internal/cache"
	"breakwater/internal/inventory"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/scan"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Defaults for the zero values of Options.
const (
	DefaultWait           = 30 * time.Second
	DefaultInspectTimeout = 30 * time.Minute
	// retryAfter is what a client told to come back waits: long enough for
	// small images to finish, short enough that a pull does not stall.
	retryAfter = 5 * time.Second
)

// Fetcher gives the firewall an image's config and layers, verified and
// stored as they are read; *cache.Cache implements it.
type Fetcher interface {
	Blob(ctx context.Context, repo cache.Repo, d digest.Digest) (*cache.Blob, error)
}

// Matcher turns an inventory into findings; *vulndb.DB implements it.
type Matcher interface {
	Match(ctx context.Context, inv *inventory.Inventory) ([]inventory.Finding, error)
	Ready(ctx context.Context) (bool, error)
}

// Options configure a Firewall.
type Options struct {
	// Meta is the cache's metadata (for when a manifest was cached), Store
	// the firewall's records, Blobs the bytes Delete removes. Required;
	// the SQLite Meta is both Meta and Store.
	Meta  store.Meta
	Store store.Firewall
	Blobs store.Blobs
	// Cache fetches configs and layers and VulnDB matches them. The Gate
	// methods and Judge need both, Reevaluate needs VulnDB (and with a
	// Cache also judges images served unjudged); administration needs
	// neither.
	Cache  Fetcher
	VulnDB Matcher
	// Policies are applied in order; they should have passed Validate.
	Policies policy.Set
	// Settings are the firewall settings; the zero value is taken as
	// policy.DefaultFirewall().
	Settings policy.Firewall
	// Wait is how long a first pull waits for its inspection (default 30s).
	Wait time.Duration
	// InspectTimeout bounds one inspection (default 30m).
	InspectTimeout time.Duration
	// Scan bounds each inspection; the zero value uses scan's defaults,
	// except that files are spooled under Blobs.TempDir().
	Scan   scan.Options
	Logger *slog.Logger
	// Metrics counts inspections and verdicts; nil counts nothing.
	Metrics *telemetry.Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Firewall judges images. Its zero value is not usable; call New.
type Firewall struct {
	opts  Options
	st    store.Firewall
	log   *slog.Logger
	since time.Time // when the firewall was first enabled

	// flights shares one decision per repository and digest; inspections
	// one inspection per digest, for an image held by several repositories.
	flights     singleflight.Group
	inspections singleflight.Group
	// base is the parent of every inspection, cancelled by Close; wg counts
	// inspections in flight. mu guards closed, so no inspection starts
	// once Close waits.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool

	// policies is the set in force: Options.Policies, or the one set at
	// run time (custom), read by every judgement.
	policies atomic.Pointer[policy.Set]
	custom   atomic.Bool
	// reevaluating serialises Reevaluate runs (a feed refresh and a policy
	// change may both start one).
	reevaluating sync.Mutex

	// inspected, if set, is called before each inspection (tests count them).
	inspected func(digest.Digest)
}

// New returns a Firewall. One with a Cache records, on first use of a
// store, the time the firewall was enabled: images cached before it are
// audited, not withheld.
func New(opts Options) (*Firewall, error) {
	if opts.Meta == nil || opts.Store == nil || opts.Blobs == nil {
		return nil, errors.New("new firewall: Meta, Store and Blobs are required")
	}
	if opts.Settings.Mode == "" {
		opts.Settings = policy.DefaultFirewall()
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	if opts.InspectTimeout <= 0 {
		opts.InspectTimeout = DefaultInspectTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Scan.TempDir == "" {
		// The data directory has room for layers; /tmp may be a small tmpfs.
		opts.Scan.TempDir = opts.Blobs.TempDir()
	}
	// Only a firewall that judges pulls marks the store as guarded from
	// now on; an admin command on a store served without the firewall
	// must not.
	var since time.Time
	if opts.Cache != nil {
		var err error
		if since, err = opts.Store.FirewallSince(context.Background(), opts.Now()); err != nil {
			return nil, fmt.Errorf("new firewall: %w", err)
		}
	}
	base, cancel := context.WithCancel(context.Background())
	f := &Firewall{
		opts:   opts,
		st:     opts.Store,
		log:    telemetry.OrDiscard(opts.Logger),
		since:  since,
		base:   base,
		cancel: cancel,
	}
	if err := f.loadPolicies(context.Background()); err != nil {
		cancel()
		return nil, fmt.Errorf("new firewall: %w", err)
	}
	return f, nil
}

// Close cancels the inspections in flight and waits for them to end. It
// does not close the stores.
func (f *Firewall) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
	return nil
}

// errClosed answers pulls that arrive after Close.
var errClosed = errors.New("firewall closed")

// started counts an inspection in flight, unless the firewall is closed.
func (f *Firewall) started() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.wg.Add(1)
	return true
}

// ErrNotReady is returned by Ready until vulnerability data is loaded.
var ErrNotReady = errors.New("vulnerability data not loaded")

// Ready returns nil once the vulnerability data holds records, the
// condition for trusting an empty match; a server's /readyz reports it.
func (f *Firewall) Ready(ctx context.Context) error {
	if f.opts.VulnDB == nil {
		return fmt.Errorf("firewall has no vulnerability database: %w", ErrNotReady)
	}
	ok, err := f.opts.VulnDB.Ready(ctx)
	if err != nil {
		return fmt.Errorf("check vulnerability data: %w", err)
	}
	if !ok {
		return ErrNotReady
	}
	return nil
}

// BlockedError is what a client asking for a withheld image gets: a bare
// 404 by default, a 403 naming the policy and quarantine id when the
// repository shows reasons.
type BlockedError struct {
	Repo   string
	Digest digest.Digest
	// Reason is the public reason: the policy's name.
	Reason string
	ID     string
	// Show is the repository's show_reason setting.
	Show bool
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("image %s@%s withheld by policy %s (quarantine id %s)", e.Repo, e.Digest, e.Reason, e.ID)
}

// Unwrap gives the error the client sees.
func (e *BlockedError) Unwrap() error {
	if !e.Show {
		return oci.ErrManifestUnknown
	}
	msg := "blocked by breakwater policy " + e.Reason
	if e.ID != "" {
		msg += "; quarantine id " + e.ID
	}
	return oci.ErrDenied.WithMessage(msg)
}

// QuarantineID is the id the registry sends as a header; empty unless the
// repository shows reasons, so a bare 404 gives nothing away.
func (e *BlockedError) QuarantineID() string {
	if !e.Show {
		return ""
	}
	return e.ID
}

// errInspecting tells a client its image is still being inspected.
var errInspecting = &retryError{oci.ErrTooManyRequests.WithMessage("image is being inspected, retry later")}

// errNotLoaded withholds images while there is no vulnerability data.
var errNotLoaded = oci.ErrUnavailable.WithMessage("vulnerability data not loaded")

// errNotInspected withholds an image whose inspection could not finish for
// a reason worth a retry (an upstream or store failure).
var errNotInspected = oci.ErrUnavailable.WithMessage("image could not be inspected, retry later")

// retryError is a retryable client error with a Retry-After.
type retryError struct{ err error }

func (e *retryError) Error() string             { return e.err.Error() }
func (e *retryError) Unwrap() error             { return e.err }
func (e *retryError) RetryAfter() time.Duration { return retryAfter }
