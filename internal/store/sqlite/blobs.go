package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// PutBlob records that repo references blob d.
func (m *Meta) PutBlob(ctx context.Context, repo string, d digest.Digest, size int64) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		id, err := repoID(ctx, tx, repo)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO repo_blobs (repo_id, digest, size) VALUES (?, ?, ?)
ON CONFLICT (repo_id, digest) DO UPDATE SET size = excluded.size`, id, d.String(), size)
		return err
	})
	if err != nil {
		return fmt.Errorf("put blob %s@%s: %w", repo, d, err)
	}
	return nil
}

// HasBlob reports whether repo references d.
func (m *Meta) HasBlob(ctx context.Context, repo string, d digest.Digest) error {
	var one int
	err := m.read.QueryRowContext(ctx, `
SELECT 1 FROM repo_blobs b JOIN repositories r ON r.id = b.repo_id
WHERE r.name = ? AND b.digest = ?`, repo, d.String()).Scan(&one)
	if err != nil {
		return fmt.Errorf("read blob %s@%s: %w", repo, d, notFound(err))
	}
	return nil
}

// Touch records that d was served at t, keeping the latest time. Each call
// is a write transaction, so callers debounce (the cache does).
func (m *Meta) Touch(ctx context.Context, d digest.Digest, t time.Time) error {
	_, err := m.write.ExecContext(ctx, `
INSERT INTO blob_access (digest, accessed_at) VALUES (?, ?)
ON CONFLICT (digest) DO UPDATE SET accessed_at = max(accessed_at, excluded.accessed_at)`,
		d.String(), nanos(t))
	if err != nil {
		return fmt.Errorf("touch blob %s: %w", d, err)
	}
	return nil
}

// LastAccess returns the latest time Touch recorded for d.
func (m *Meta) LastAccess(ctx context.Context, d digest.Digest) (time.Time, error) {
	var at int64
	err := m.read.QueryRowContext(ctx, `SELECT accessed_at FROM blob_access WHERE digest = ?`, d.String()).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("read last access of %s: %w", d, notFound(err))
	}
	return fromNanos(at), nil
}
