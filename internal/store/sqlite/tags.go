package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// PutTag records t, appending to the history when the digest is new.
func (m *Meta) PutTag(ctx context.Context, t store.Tag) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		id, err := repoID(ctx, tx, t.Repo)
		if err != nil {
			return err
		}
		var current string
		err = tx.QueryRowContext(ctx, `SELECT digest FROM tags WHERE repo_id = ? AND name = ?`, id, t.Name).Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}

		// The tag row goes first: history rows refer to it.
		_, err = tx.ExecContext(ctx, `
INSERT INTO tags (repo_id, name, digest, media_type, size, checked_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (repo_id, name) DO UPDATE SET
	digest = excluded.digest, media_type = excluded.media_type,
	size = excluded.size, checked_at = excluded.checked_at`,
			id, t.Name, t.Digest.String(), t.MediaType, t.Size, nanos(t.CheckedAt))
		if err != nil || current == t.Digest.String() {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tag_history (repo_id, tag, digest, seen_at) VALUES (?, ?, ?, ?)`,
			id, t.Name, t.Digest.String(), nanos(t.CheckedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("put tag %s:%s: %w", t.Repo, t.Name, err)
	}
	return nil
}

// Tag returns the recorded tag.
func (m *Meta) Tag(ctx context.Context, repo, name string) (store.Tag, error) {
	t := store.Tag{Repo: repo, Name: name}
	var checked int64
	err := m.read.QueryRowContext(ctx, `
SELECT t.digest, t.media_type, t.size, t.checked_at
FROM tags t JOIN repositories r ON r.id = t.repo_id
WHERE r.name = ? AND t.name = ?`, repo, name).Scan(&t.Digest, &t.MediaType, &t.Size, &checked)
	if err != nil {
		return store.Tag{}, fmt.Errorf("read tag %s:%s: %w", repo, name, notFound(err))
	}
	t.CheckedAt = fromNanos(checked)
	return t, nil
}

// TagHistory returns the tag's digests in the order they were recorded.
func (m *Meta) TagHistory(ctx context.Context, repo, name string) ([]store.TagEvent, error) {
	events, err := m.tagHistory(ctx, repo, name)
	if err == nil && len(events) == 0 {
		// Every recorded tag has at least one event.
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read tag history %s:%s: %w", repo, name, err)
	}
	return events, nil
}

func (m *Meta) tagHistory(ctx context.Context, repo, name string) ([]store.TagEvent, error) {
	rows, err := m.read.QueryContext(ctx, `
SELECT h.digest, h.seen_at
FROM tag_history h JOIN repositories r ON r.id = h.repo_id
WHERE r.name = ? AND h.tag = ?
ORDER BY h.id`, repo, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []store.TagEvent
	for rows.Next() {
		var d digest.Digest
		var seen int64
		if err := rows.Scan(&d, &seen); err != nil {
			return nil, err
		}
		events = append(events, store.TagEvent{Digest: d, SeenAt: fromNanos(seen)})
	}
	return events, rows.Err()
}

// Tags lists repo's tag names in byte order after last.
func (m *Meta) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	// One read transaction, so the repository cannot appear between the
	// two queries and turn "unknown" into an empty list by accident.
	tx, err := m.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	defer tx.Rollback()

	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = ?`, repo).Scan(&id); err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, notFound(err))
	}
	names, err := column(tx.QueryContext(ctx, `SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name LIMIT ?`, id, last, limit(n)))
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	return names, nil
}
