// Package cache is the pull-through part of breakwater: it resolves tags to
// digests (fresh, revalidated, or stale when the upstream fails), fills each
// manifest and blob from the upstream once however many clients wait for it,
// streams a cold blob to every waiter while it is being written, and commits
// bytes to the store only after they match their digest.
package cache

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

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

// Options configure a Cache.
type Options struct {
	// Upstreams by name.
	Upstreams map[string]Upstream
	Blobs     store.Blobs
	Meta      store.Meta
	// TagMaxAge is how long a tag's digest is used without asking the
	// upstream (default 5m). Past it the tag is revalidated with a HEAD.
	TagMaxAge time.Duration
	// NegativeTTL is how long "the upstream has no such name or tag" is
	// remembered (default 30s).
	NegativeTTL time.Duration
	Logger      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Cache is safe for concurrent use.
type Cache struct {
	opts Options
}

// New returns a Cache.
func New(opts Options) *Cache { return &Cache{opts: opts} }

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

// Manifest resolves ref in repo and returns the manifest.
func (c *Cache) Manifest(ctx context.Context, repo Repo, ref oci.Reference) (*Manifest, error) {
	panic("not implemented")
}

// Blob returns blob d of repo.
func (c *Cache) Blob(ctx context.Context, repo Repo, d digest.Digest) (*Blob, error) {
	panic("not implemented")
}

// Tags lists repo's tags after last, at most n (n <= 0: all): the upstream's
// list when it answers, the cached tags when it does not.
func (c *Cache) Tags(ctx context.Context, repo Repo, last string, n int) ([]string, error) {
	panic("not implemented")
}

// Referrers returns an OCI image index of the manifests referring to d,
// filtered by artifactType when it is not empty.
func (c *Cache) Referrers(ctx context.Context, repo Repo, d digest.Digest, artifactType string) ([]byte, error) {
	panic("not implemented")
}

// Catalog lists cached repositories' canonical names after last, at most n.
func (c *Cache) Catalog(ctx context.Context, last string, n int) ([]string, error) {
	panic("not implemented")
}
