// Package store defines where breakwater keeps bytes and what it knows about
// them: Blobs holds content-addressed bytes (manifests and layers alike), Meta
// holds repositories, tags with their history, manifest records and access
// times. Backends live in sibling packages and all pass the shared suite in
// storetest, so the cache never knows which one runs.
package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned, possibly wrapped, for anything a store does not hold.
var ErrNotFound = errors.New("not found")

// Blobs is a content-addressed byte store. Implementations are safe for
// concurrent use. A blob is visible only once Put has completed, so a reader
// never sees partial content.
type Blobs interface {
	// Stat returns the size of the blob, or ErrNotFound.
	Stat(ctx context.Context, d digest.Digest) (int64, error)

	// Open returns the blob for reading and its size. The filesystem backend
	// returns an *os.File, which lets net/http send it with sendfile.
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, int64, error)

	// Put moves the local file at path, whose content the caller has already
	// verified to match d, into the store. The file must live under the
	// directory TempDir returns; Put consumes it whether or not it succeeds.
	// A path outside TempDir is refused and left alone. Putting a digest
	// that is already present is not an error.
	Put(ctx context.Context, d digest.Digest, path string) error

	// Delete removes a blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, d digest.Digest) error

	// TempDir is a local directory on the same filesystem as the store's
	// files (for the filesystem backend), where callers spool incoming
	// bytes before Put.
	TempDir() string
}

// Manifest records one manifest digest as part of one repository.
type Manifest struct {
	Repo      string
	Digest    digest.Digest
	MediaType string
	Size      int64
	// Subject and ArtifactType are set for manifests that refer to another
	// manifest, so the referrers API can be answered from the cache.
	Subject      digest.Digest
	ArtifactType string
	CachedAt     time.Time
}

// Tag is what a repository's tag pointed at when last checked.
type Tag struct {
	Repo      string
	Name      string
	Digest    digest.Digest
	MediaType string
	Size      int64
	// CheckedAt is when the upstream last confirmed this digest; freshness is
	// measured from it.
	CheckedAt time.Time
}

// TagEvent is one entry of a tag's history: a digest first seen at a time.
type TagEvent struct {
	Digest digest.Digest
	SeenAt time.Time
}

// Meta is the metadata store. Implementations are safe for concurrent use.
// Repo names are breakwater's canonical names (upstream name, "/", remote
// repository), so one store serves every upstream. A repository becomes
// known with its first PutTag, PutManifest or PutBlob. Lexical order is
// byte order, whatever the backend's collation. Times come back in UTC and
// keep at least microsecond precision.
type Meta interface {
	// PutTag records what tag points at; a new or changed digest appends a
	// history event seen at t.CheckedAt, an unchanged one only moves
	// CheckedAt.
	PutTag(ctx context.Context, t Tag) error
	// Tag returns the recorded tag, or ErrNotFound.
	Tag(ctx context.Context, repo, name string) (Tag, error)
	// TagHistory returns the digests a tag has pointed at, oldest first, or
	// ErrNotFound for a tag never recorded.
	TagHistory(ctx context.Context, repo, name string) ([]TagEvent, error)
	// Tags lists the tag names of repo in lexical order after last, at most
	// n of them (n <= 0 means all). An unknown repo is ErrNotFound; a known
	// one without tags gives an empty list.
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)

	// PutManifest records a manifest as part of its repository; recording
	// the same digest again replaces the record.
	PutManifest(ctx context.Context, m Manifest) error
	// Manifest returns the record of d in repo, or ErrNotFound.
	Manifest(ctx context.Context, repo string, d digest.Digest) (Manifest, error)
	// Referrers lists the manifests of repo whose subject is d, in digest
	// order; none is an empty list, not an error.
	Referrers(ctx context.Context, repo string, d digest.Digest) ([]Manifest, error)

	// PutBlob records that repo references blob d of the given size, so
	// blob requests are answered only for repositories that hold them.
	PutBlob(ctx context.Context, repo string, d digest.Digest, size int64) error
	// HasBlob reports whether repo references d (ErrNotFound if not).
	HasBlob(ctx context.Context, repo string, d digest.Digest) error

	// Touch records that d was served at t. The latest time wins, so a
	// Touch arriving out of order never moves the access time back.
	Touch(ctx context.Context, d digest.Digest, t time.Time) error
	// LastAccess returns the latest time Touch recorded for d, or
	// ErrNotFound; garbage collection reads it to find cold blobs.
	LastAccess(ctx context.Context, d digest.Digest) (time.Time, error)

	// Repositories lists cached repository names in lexical order after
	// last, at most n of them (n <= 0 means all).
	Repositories(ctx context.Context, last string, n int) ([]string, error)

	Close() error
}
