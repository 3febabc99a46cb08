package cache

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// Blob returns blob d of repo: from the store when repo is known to hold it
// and the bytes are there, otherwise as a stream following the one fill of
// d that all concurrent callers share. A stream's Read fails, never ends
// early with io.EOF, when the upstream's bytes turn out not to match d.
func (c *Cache) Blob(ctx context.Context, repo Repo, d digest.Digest) (*Blob, error) {
	up, err := c.upstream(repo)
	if err != nil {
		return nil, err
	}

	// Warm: the repository references d (recorded when one of its
	// manifests was cached or the blob filled) and the bytes are stored.
	err = c.opts.Meta.HasBlob(ctx, repo.String(), d)
	switch {
	case err == nil:
		b, err := c.openStored(ctx, repo, d)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return b, err
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("look up blob %s of %s: %w", d, repo, err)
	}

	// Cold: ask the upstream, once for all waiters.
	if err := c.knownMissing(repo, ""); err != nil {
		return nil, err
	}
	if c.missedBlob != nil {
		c.missedBlob()
	}
	return c.fillBlob(ctx, up, repo, d)
}
