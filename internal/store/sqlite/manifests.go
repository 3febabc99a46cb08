package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// PutManifest records mf, replacing an earlier record of the same digest
// in the same repository.
func (m *Meta) PutManifest(ctx context.Context, mf store.Manifest) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		id, err := repoID(ctx, tx, mf.Repo)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
INSERT INTO manifests (repo_id, digest, media_type, size, subject, artifact_type, cached_at) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (repo_id, digest) DO UPDATE SET
	media_type = excluded.media_type, size = excluded.size, subject = excluded.subject,
	artifact_type = excluded.artifact_type, cached_at = excluded.cached_at`,
			id, mf.Digest.String(), mf.MediaType, mf.Size, mf.Subject.String(), mf.ArtifactType, nanos(mf.CachedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put manifest %s@%s: %w", mf.Repo, mf.Digest, err)
	}
	return nil
}

// manifestColumns are scanned by scanManifest, in this order.
const manifestColumns = `m.digest, m.media_type, m.size, m.subject, m.artifact_type, m.cached_at`

// scanManifest reads one row of manifestColumns.
func scanManifest(row interface{ Scan(...any) error }, repo string) (store.Manifest, error) {
	mf := store.Manifest{Repo: repo}
	var cached int64
	err := row.Scan(&mf.Digest, &mf.MediaType, &mf.Size, &mf.Subject, &mf.ArtifactType, &cached)
	mf.CachedAt = fromNanos(cached)
	return mf, err
}

// Manifest returns the record of d in repo.
func (m *Meta) Manifest(ctx context.Context, repo string, d digest.Digest) (store.Manifest, error) {
	row := m.read.QueryRowContext(ctx, `
SELECT `+manifestColumns+`
FROM manifests m JOIN repositories r ON r.id = m.repo_id
WHERE r.name = ? AND m.digest = ?`, repo, d.String())
	mf, err := scanManifest(row, repo)
	if err != nil {
		return store.Manifest{}, fmt.Errorf("read manifest %s@%s: %w", repo, d, notFound(err))
	}
	return mf, nil
}

// Referrers lists the manifests of repo whose subject is d, by digest.
func (m *Meta) Referrers(ctx context.Context, repo string, d digest.Digest) ([]store.Manifest, error) {
	refs, err := m.referrers(ctx, repo, d)
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s@%s: %w", repo, d, err)
	}
	return refs, nil
}

func (m *Meta) referrers(ctx context.Context, repo string, d digest.Digest) ([]store.Manifest, error) {
	rows, err := m.read.QueryContext(ctx, `
SELECT `+manifestColumns+`
FROM manifests m JOIN repositories r ON r.id = m.repo_id
WHERE r.name = ? AND m.subject = ?
ORDER BY m.digest`, repo, d.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var refs []store.Manifest
	for rows.Next() {
		mf, err := scanManifest(rows, repo)
		if err != nil {
			return nil, err
		}
		refs = append(refs, mf)
	}
	return refs, rows.Err()
}
