package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

var _ store.Firewall = (*Meta)(nil)

// firewallSchema is migration 2. Firewall tables name repositories by
// their canonical name rather than by repositories.id, because a verdict
// outlives the cache's record of the repository (a deleted manifest).
const firewallSchema = `
CREATE TABLE fw_settings (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE fw_verdicts (
	repo            TEXT NOT NULL,
	digest          TEXT NOT NULL,
	result          TEXT NOT NULL,
	artifact        INTEGER NOT NULL,
	before_firewall INTEGER NOT NULL,
	evidence        BLOB,
	judged_at       INTEGER NOT NULL,
	served_at       INTEGER NOT NULL,
	PRIMARY KEY (repo, digest)
) WITHOUT ROWID;

-- fw_blobs lists the config and layers of each judged manifest, so a
-- blob request can be answered by its owners' verdicts.
CREATE TABLE fw_blobs (
	repo     TEXT NOT NULL,
	blob     TEXT NOT NULL,
	manifest TEXT NOT NULL,
	PRIMARY KEY (repo, blob, manifest)
) WITHOUT ROWID;
CREATE INDEX fw_blobs_by_manifest ON fw_blobs (repo, manifest);

CREATE TABLE fw_inventories (
	digest    TEXT PRIMARY KEY,
	inventory BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE fw_quarantine (
	id           TEXT PRIMARY KEY,
	upstream     TEXT NOT NULL,
	repo         TEXT NOT NULL,
	tag          TEXT NOT NULL,
	digest       TEXT NOT NULL,
	platform     TEXT NOT NULL,
	requested_at INTEGER NOT NULL,
	requested_by TEXT NOT NULL,
	policies     TEXT NOT NULL,
	evidence     BLOB,
	UNIQUE (repo, digest)
);
CREATE INDEX fw_quarantine_by_digest ON fw_quarantine (digest);
CREATE INDEX fw_quarantine_by_time ON fw_quarantine (requested_at);

CREATE TABLE fw_notes (
	id            INTEGER PRIMARY KEY,
	quarantine_id TEXT NOT NULL REFERENCES fw_quarantine (id) ON DELETE CASCADE,
	at            INTEGER NOT NULL,
	by            TEXT NOT NULL,
	text          TEXT NOT NULL
);
CREATE INDEX fw_notes_by_record ON fw_notes (quarantine_id, id);

CREATE TABLE fw_waivers (
	digest     TEXT PRIMARY KEY,
	by         TEXT NOT NULL,
	reason     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE fw_audit (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	repo    TEXT NOT NULL,
	digest  TEXT NOT NULL,
	details TEXT NOT NULL
);
CREATE INDEX fw_audit_by_digest ON fw_audit (digest, id);
CREATE INDEX fw_audit_by_repo ON fw_audit (repo, id);
`

// FirewallSince records t as the firewall's first enabled time unless one
// is recorded, and returns the recorded time.
func (m *Meta) FirewallSince(ctx context.Context, t time.Time) (time.Time, error) {
	var at int64
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO fw_settings (key, value) VALUES ('enabled_at', ?) ON CONFLICT (key) DO NOTHING`, nanos(t)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM fw_settings WHERE key = 'enabled_at'`).Scan(&at)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("record firewall start: %w", err)
	}
	return fromNanos(at), nil
}

// PutVerdict records v and the blobs its manifest references.
func (m *Meta) PutVerdict(ctx context.Context, v store.Verdict, blobs []digest.Digest) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO fw_verdicts (repo, digest, result, artifact, before_firewall, evidence, judged_at, served_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (repo, digest) DO UPDATE SET
	result = excluded.result, artifact = excluded.artifact, before_firewall = excluded.before_firewall,
	evidence = excluded.evidence, judged_at = excluded.judged_at,
	served_at = CASE WHEN fw_verdicts.served_at = 0 THEN excluded.served_at ELSE fw_verdicts.served_at END`,
			v.Repo, v.Digest.String(), v.Result, v.Artifact, v.BeforeFirewall, v.Evidence, nanos(v.JudgedAt), nanos(v.ServedAt))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM fw_blobs WHERE repo = ? AND manifest = ?`, v.Repo, v.Digest.String()); err != nil {
			return err
		}
		for _, b := range blobs {
			_, err := tx.ExecContext(ctx, `INSERT INTO fw_blobs (repo, blob, manifest) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				v.Repo, b.String(), v.Digest.String())
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put verdict %s@%s: %w", v.Repo, v.Digest, err)
	}
	return nil
}

// UpdateVerdict replaces an existing verdict's result and evidence.
func (m *Meta) UpdateVerdict(ctx context.Context, v store.Verdict) error {
	res, err := m.write.ExecContext(ctx, `
UPDATE fw_verdicts SET result = ?, artifact = ?, before_firewall = ?, evidence = ?, judged_at = ?
WHERE repo = ? AND digest = ?`,
		v.Result, v.Artifact, v.BeforeFirewall, v.Evidence, nanos(v.JudgedAt), v.Repo, v.Digest.String())
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("update verdict %s@%s: %w", v.Repo, v.Digest, err)
	}
	return nil
}

const verdictColumns = `v.repo, v.digest, v.result, v.artifact, v.before_firewall, v.evidence, v.judged_at, v.served_at`

// verdictNoEvidence is verdictColumns with NULL for the evidence.
var verdictNoEvidence = strings.Replace(verdictColumns, "v.evidence", "NULL", 1)

func scanVerdict(row interface{ Scan(...any) error }) (store.Verdict, error) {
	var v store.Verdict
	var judged, served int64
	err := row.Scan(&v.Repo, &v.Digest, &v.Result, &v.Artifact, &v.BeforeFirewall, &v.Evidence, &judged, &served)
	v.JudgedAt, v.ServedAt = fromNanos(judged), fromNanos(served)
	return v, err
}

func scanVerdicts(rows *sql.Rows, err error) ([]store.Verdict, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Verdict
	for rows.Next() {
		v, err := scanVerdict(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Verdict returns the verdict of d in repo.
func (m *Meta) Verdict(ctx context.Context, repo string, d digest.Digest) (store.Verdict, error) {
	row := m.read.QueryRowContext(ctx, `SELECT `+verdictColumns+` FROM fw_verdicts v WHERE v.repo = ? AND v.digest = ?`, repo, d.String())
	v, err := scanVerdict(row)
	if err != nil {
		return store.Verdict{}, fmt.Errorf("read verdict %s@%s: %w", repo, d, notFound(err))
	}
	return v, nil
}

// Result returns the verdict of d in repo without its evidence.
func (m *Meta) Result(ctx context.Context, repo string, d digest.Digest) (store.Verdict, error) {
	row := m.read.QueryRowContext(ctx, `SELECT `+verdictNoEvidence+` FROM fw_verdicts v WHERE v.repo = ? AND v.digest = ?`, repo, d.String())
	v, err := scanVerdict(row)
	if err != nil {
		return store.Verdict{}, fmt.Errorf("read verdict %s@%s: %w", repo, d, notFound(err))
	}
	return v, nil
}

// VerdictsOf lists the verdicts of image d, by repository.
func (m *Meta) VerdictsOf(ctx context.Context, d digest.Digest) ([]store.Verdict, error) {
	vs, err := scanVerdicts(m.read.QueryContext(ctx, `
SELECT `+verdictNoEvidence+` FROM fw_verdicts v WHERE v.digest = ? ORDER BY v.repo`, d.String()))
	if err != nil {
		return nil, fmt.Errorf("list verdicts of %s: %w", d, err)
	}
	return vs, nil
}

// Verdicts lists verdicts after last in (repo, digest) order.
func (m *Meta) Verdicts(ctx context.Context, last store.VerdictKey, n int) ([]store.Verdict, error) {
	vs, err := scanVerdicts(m.read.QueryContext(ctx, `
SELECT `+verdictColumns+` FROM fw_verdicts v
WHERE v.repo > ? OR (v.repo = ? AND v.digest > ?)
ORDER BY v.repo, v.digest LIMIT ?`, last.Repo, last.Repo, last.Digest.String(), limit(n)))
	if err != nil {
		return nil, fmt.Errorf("list verdicts: %w", err)
	}
	return vs, nil
}

// MarkServed records the first time d was served in repo.
func (m *Meta) MarkServed(ctx context.Context, repo string, d digest.Digest, t time.Time) error {
	_, err := m.write.ExecContext(ctx, `UPDATE fw_verdicts SET served_at = ? WHERE repo = ? AND digest = ? AND served_at = 0`,
		nanos(t), repo, d.String())
	if err != nil {
		return fmt.Errorf("mark %s@%s served: %w", repo, d, err)
	}
	return nil
}

// DeleteVerdict removes the verdict of d in repo and its blob list.
func (m *Meta) DeleteVerdict(ctx context.Context, repo string, d digest.Digest) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fw_verdicts WHERE repo = ? AND digest = ?`, repo, d.String()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM fw_blobs WHERE repo = ? AND manifest = ?`, repo, d.String())
		return err
	})
	if err != nil {
		return fmt.Errorf("delete verdict %s@%s: %w", repo, d, err)
	}
	return nil
}

// BlobOwners returns the verdicts of repo's manifests that reference d,
// serving images first.
func (m *Meta) BlobOwners(ctx context.Context, repo string, d digest.Digest, n int) ([]store.Verdict, error) {
	vs, err := scanVerdicts(m.read.QueryContext(ctx, `
SELECT `+verdictNoEvidence+` FROM fw_blobs b JOIN fw_verdicts v ON v.repo = b.repo AND v.digest = b.manifest
WHERE b.repo = ? AND b.blob = ?
ORDER BY v.artifact OR v.result NOT IN ('allow', 'audit'), v.digest
LIMIT ?`, repo, d.String(), limit(n)))
	if err != nil {
		return nil, fmt.Errorf("list owners of blob %s@%s: %w", repo, d, err)
	}
	return vs, nil
}

// OwnedBlobs returns the blobs recorded with the verdict of d in repo.
func (m *Meta) OwnedBlobs(ctx context.Context, repo string, d digest.Digest) ([]digest.Digest, error) {
	names, err := column(m.read.QueryContext(ctx, `SELECT blob FROM fw_blobs WHERE repo = ? AND manifest = ? ORDER BY blob`, repo, d.String()))
	if err != nil {
		return nil, fmt.Errorf("list blobs of %s@%s: %w", repo, d, err)
	}
	out := make([]digest.Digest, len(names))
	for i, n := range names {
		out[i] = digest.Digest(n)
	}
	return out, nil
}

// PutInventory records the inventory of image d.
func (m *Meta) PutInventory(ctx context.Context, d digest.Digest, inv []byte) error {
	_, err := m.write.ExecContext(ctx, `
INSERT INTO fw_inventories (digest, inventory) VALUES (?, ?)
ON CONFLICT (digest) DO UPDATE SET inventory = excluded.inventory`, d.String(), inv)
	if err != nil {
		return fmt.Errorf("put inventory %s: %w", d, err)
	}
	return nil
}

// Inventory returns the inventory of image d.
func (m *Meta) Inventory(ctx context.Context, d digest.Digest) ([]byte, error) {
	var inv []byte
	err := m.read.QueryRowContext(ctx, `SELECT inventory FROM fw_inventories WHERE digest = ?`, d.String()).Scan(&inv)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", d, notFound(err))
	}
	return inv, nil
}

// DeleteInventory removes the inventory of image d.
func (m *Meta) DeleteInventory(ctx context.Context, d digest.Digest) error {
	if _, err := m.write.ExecContext(ctx, `DELETE FROM fw_inventories WHERE digest = ?`, d.String()); err != nil {
		return fmt.Errorf("delete inventory %s: %w", d, err)
	}
	return nil
}

// PutQuarantine records q unless its image has a record already.
func (m *Meta) PutQuarantine(ctx context.Context, q store.Quarantine) (string, error) {
	policies, err := json.Marshal(q.Policies)
	if err != nil {
		return "", fmt.Errorf("encode policies: %w", err)
	}
	var id string
	err = m.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO fw_quarantine (id, upstream, repo, tag, digest, platform, requested_at, requested_by, policies, evidence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest) DO NOTHING`,
			q.ID, q.Upstream, q.Repo, q.Tag, q.Digest.String(), q.Platform, nanos(q.RequestedAt), q.RequestedBy, string(policies), q.Evidence)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM fw_quarantine WHERE repo = ? AND digest = ?`, q.Repo, q.Digest.String()).Scan(&id)
	})
	if err != nil {
		return "", fmt.Errorf("put quarantine %s@%s: %w", q.Repo, q.Digest, err)
	}
	return id, nil
}

const quarantineColumns = `id, upstream, repo, tag, digest, platform, requested_at, requested_by, policies, evidence`

func scanQuarantine(row interface{ Scan(...any) error }) (store.Quarantine, error) {
	var q store.Quarantine
	var at int64
	var policies string
	if err := row.Scan(&q.ID, &q.Upstream, &q.Repo, &q.Tag, &q.Digest, &q.Platform, &at, &q.RequestedBy, &policies, &q.Evidence); err != nil {
		return q, err
	}
	q.RequestedAt = fromNanos(at)
	return q, json.Unmarshal([]byte(policies), &q.Policies)
}

// Quarantine returns the record with id and its notes.
func (m *Meta) Quarantine(ctx context.Context, id string) (store.Quarantine, error) {
	q, err := scanQuarantine(m.read.QueryRowContext(ctx, `SELECT `+quarantineColumns+` FROM fw_quarantine WHERE id = ?`, id))
	if err == nil {
		q.Notes, err = m.notes(ctx, id)
	}
	if err != nil {
		return store.Quarantine{}, fmt.Errorf("read quarantine %s: %w", id, notFound(err))
	}
	return q, nil
}

// Quarantines lists records matching filter, newest request first.
func (m *Meta) Quarantines(ctx context.Context, filter store.QuarantineFilter, offset, n int) ([]store.Quarantine, error) {
	var where []string
	var args []any
	if filter.Repo != "" {
		where, args = append(where, "repo = ?"), append(args, filter.Repo)
	}
	if filter.Digest != "" {
		where, args = append(where, "digest = ?"), append(args, filter.Digest.String())
	}
	q := `SELECT ` + quarantineColumns + ` FROM fw_quarantine`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY requested_at DESC, id LIMIT ? OFFSET ?`
	args = append(args, limit(n), max(offset, 0))

	out, err := m.quarantines(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

func (m *Meta) quarantines(ctx context.Context, q string, args []any) ([]store.Quarantine, error) {
	rows, err := m.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var out []store.Quarantine
	for rows.Next() {
		r, err := scanQuarantine(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Notes, err = m.notes(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Meta) notes(ctx context.Context, id string) ([]store.Note, error) {
	rows, err := m.read.QueryContext(ctx, `SELECT at, by, text FROM fw_notes WHERE quarantine_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Note
	for rows.Next() {
		var n store.Note
		var at int64
		if err := rows.Scan(&at, &n.By, &n.Text); err != nil {
			return nil, err
		}
		n.At = fromNanos(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

// DeleteQuarantine removes a record and its notes.
func (m *Meta) DeleteQuarantine(ctx context.Context, id string) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fw_notes WHERE quarantine_id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM fw_quarantine WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete quarantine %s: %w", id, err)
	}
	return nil
}

// AddNote appends a note to the record with id.
func (m *Meta) AddNote(ctx context.Context, id string, n store.Note) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM fw_quarantine WHERE id = ?`, id).Scan(&one); err != nil {
			return notFound(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fw_notes (quarantine_id, at, by, text) VALUES (?, ?, ?, ?)`, id, nanos(n.At), n.By, n.Text)
		return err
	})
	if err != nil {
		return fmt.Errorf("add note to quarantine %s: %w", id, err)
	}
	return nil
}

// PutWaiver records w, replacing the waiver of its digest.
func (m *Meta) PutWaiver(ctx context.Context, w store.Waiver) error {
	_, err := m.write.ExecContext(ctx, `
INSERT INTO fw_waivers (digest, by, reason, created_at, expires) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (digest) DO UPDATE SET by = excluded.by, reason = excluded.reason,
	created_at = excluded.created_at, expires = excluded.expires`,
		w.Digest.String(), w.By, w.Reason, nanos(w.CreatedAt), nanos(w.Expires))
	if err != nil {
		return fmt.Errorf("put waiver %s: %w", w.Digest, err)
	}
	return nil
}

// Waiver returns the waiver of d.
func (m *Meta) Waiver(ctx context.Context, d digest.Digest) (store.Waiver, error) {
	w := store.Waiver{Digest: d}
	var created, expires int64
	err := m.read.QueryRowContext(ctx, `SELECT by, reason, created_at, expires FROM fw_waivers WHERE digest = ?`, d.String()).
		Scan(&w.By, &w.Reason, &created, &expires)
	if err != nil {
		return store.Waiver{}, fmt.Errorf("read waiver %s: %w", d, notFound(err))
	}
	w.CreatedAt, w.Expires = fromNanos(created), fromNanos(expires)
	return w, nil
}

// DeleteWaiver removes the waiver of d.
func (m *Meta) DeleteWaiver(ctx context.Context, d digest.Digest) error {
	if _, err := m.write.ExecContext(ctx, `DELETE FROM fw_waivers WHERE digest = ?`, d.String()); err != nil {
		return fmt.Errorf("delete waiver %s: %w", d, err)
	}
	return nil
}

// AppendAudit adds e to the audit log.
func (m *Meta) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	_, err := m.write.ExecContext(ctx, `INSERT INTO fw_audit (at, actor, action, repo, digest, details) VALUES (?, ?, ?, ?, ?, ?)`,
		nanos(e.At), e.Actor, e.Action, e.Repo, e.Digest.String(), e.Details)
	if err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return nil
}

// Audit lists entries matching filter in the order appended.
func (m *Meta) Audit(ctx context.Context, filter store.AuditFilter, after int64, n int) ([]store.AuditEntry, error) {
	where, args := []string{"id > ?"}, []any{after}
	if filter.Repo != "" {
		where, args = append(where, "repo = ?"), append(args, filter.Repo)
	}
	if filter.Digest != "" {
		where, args = append(where, "digest = ?"), append(args, filter.Digest.String())
	}
	if filter.Action != "" {
		where, args = append(where, "action = ?"), append(args, filter.Action)
	}
	rows, err := m.read.QueryContext(ctx, `SELECT id, at, actor, action, repo, digest, details FROM fw_audit WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, append(args, limit(n))...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Repo, &e.Digest, &e.Details); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

// ForgetManifest removes the cache's record of manifest d in repo.
func (m *Meta) ForgetManifest(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	var referenced bool
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
DELETE FROM manifests WHERE digest = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)`, d.String(), repo)
		if err != nil {
			return err
		}
		referenced, err = stillReferenced(ctx, tx, d)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("forget manifest %s@%s: %w", repo, d, err)
	}
	return referenced, nil
}

// ForgetBlob removes the cache's record that repo references blob d.
func (m *Meta) ForgetBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	var referenced bool
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
DELETE FROM repo_blobs WHERE digest = ? AND repo_id = (SELECT id FROM repositories WHERE name = ?)`, d.String(), repo)
		if err != nil {
			return err
		}
		referenced, err = stillReferenced(ctx, tx, d)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("forget blob %s@%s: %w", repo, d, err)
	}
	return referenced, nil
}

// stillReferenced reports whether any repository records d as a manifest
// or references it as a blob or child manifest.
func stillReferenced(ctx context.Context, tx *sql.Tx, d digest.Digest) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `
SELECT 1 WHERE EXISTS (SELECT 1 FROM manifests WHERE digest = ?1) OR EXISTS (SELECT 1 FROM repo_blobs WHERE digest = ?1)`,
		d.String()).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
