package sqlite

import (
	"cmp"
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

// auditSchema is the migration of the pull log and the audit queries:
// audit entries gain the client and the result a pull was answered by,
// quarantine records the requester's address and their findings' highest
// severity (as its rank in store.Severities) and score, verdicts a side
// table of the vulnerability ids they found, and the policies set at run
// time a table of one row.
const auditSchema = `
ALTER TABLE fw_audit ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE fw_audit ADD COLUMN result TEXT NOT NULL DEFAULT '';
CREATE INDEX fw_audit_by_actor ON fw_audit (actor, id);
CREATE INDEX fw_audit_by_action ON fw_audit (action, id);
CREATE INDEX fw_audit_by_client ON fw_audit (client, id);
CREATE INDEX fw_audit_by_time ON fw_audit (at);

ALTER TABLE fw_quarantine ADD COLUMN requested_from TEXT NOT NULL DEFAULT '';
ALTER TABLE fw_quarantine ADD COLUMN severity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fw_quarantine ADD COLUMN max_score REAL NOT NULL DEFAULT 0;
CREATE INDEX fw_quarantine_by_severity ON fw_quarantine (severity);
CREATE INDEX fw_quarantine_by_score ON fw_quarantine (max_score, requested_at);

CREATE TABLE fw_verdict_vulns (
	repo   TEXT NOT NULL,
	digest TEXT NOT NULL,
	vuln   TEXT NOT NULL COLLATE NOCASE,
	PRIMARY KEY (repo, digest, vuln)
) WITHOUT ROWID;
CREATE INDEX fw_verdict_vulns_by_vuln ON fw_verdict_vulns (vuln);

CREATE TABLE fw_policies (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	policies BLOB NOT NULL
);
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
		return putVulns(ctx, tx, v)
	})
	if err != nil {
		return fmt.Errorf("put verdict %s@%s: %w", v.Repo, v.Digest, err)
	}
	return nil
}

// putVulns replaces the vulnerability ids recorded for v.
func putVulns(ctx context.Context, tx *sql.Tx, v store.Verdict) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM fw_verdict_vulns WHERE repo = ? AND digest = ?`, v.Repo, v.Digest.String()); err != nil {
		return err
	}
	for _, id := range v.Vulns {
		if id == "" {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fw_verdict_vulns (repo, digest, vuln) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			v.Repo, v.Digest.String(), id)
		if err != nil {
			return err
		}
	}
	return nil
}

// UpdateVerdict replaces an existing verdict's result, evidence and
// vulnerability ids.
func (m *Meta) UpdateVerdict(ctx context.Context, v store.Verdict) error {
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE fw_verdicts SET result = ?, artifact = ?, before_firewall = ?, evidence = ?, judged_at = ?
WHERE repo = ? AND digest = ?`,
			v.Result, v.Artifact, v.BeforeFirewall, v.Evidence, nanos(v.JudgedAt), v.Repo, v.Digest.String())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, store.ErrNotFound)
		}
		return putVulns(ctx, tx, v)
	})
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

// Verdict returns the verdict of d in repo with its vulnerability ids.
func (m *Meta) Verdict(ctx context.Context, repo string, d digest.Digest) (store.Verdict, error) {
	row := m.read.QueryRowContext(ctx, `SELECT `+verdictColumns+` FROM fw_verdicts v WHERE v.repo = ? AND v.digest = ?`, repo, d.String())
	v, err := scanVerdict(row)
	if err == nil {
		v.Vulns, err = column(m.read.QueryContext(ctx, `SELECT vuln FROM fw_verdict_vulns WHERE repo = ? AND digest = ? ORDER BY vuln`, repo, d.String()))
	}
	if err != nil {
		return store.Verdict{}, fmt.Errorf("read verdict %s@%s: %w", repo, d, notFound(err))
	}
	return v, nil
}

// VerdictsWithVuln lists the verdicts that found vulnerability id.
func (m *Meta) VerdictsWithVuln(ctx context.Context, id string) ([]store.Verdict, error) {
	vs, err := scanVerdicts(m.read.QueryContext(ctx, `
SELECT DISTINCT `+verdictNoEvidence+` FROM fw_verdict_vulns x JOIN fw_verdicts v ON v.repo = x.repo AND v.digest = x.digest
WHERE x.vuln = ? ORDER BY v.repo, v.digest`, id))
	if err != nil {
		return nil, fmt.Errorf("list verdicts with %s: %w", id, err)
	}
	return vs, nil
}

// Violations counts each repository's image verdicts by result.
func (m *Meta) Violations(ctx context.Context) ([]store.RepoViolations, error) {
	rows, err := m.read.QueryContext(ctx, `
SELECT v.repo,
	SUM(v.result = 'allow'), SUM(v.result = 'audit'), SUM(v.result = 'quarantine'), SUM(v.result = 'inspection-failed'),
	COALESCE((SELECT MAX(a.at) FROM fw_audit a WHERE a.repo = v.repo AND a.action IN ('violation', 'quarantined')), 0)
FROM fw_verdicts v WHERE NOT v.artifact GROUP BY v.repo ORDER BY v.repo`)
	if err != nil {
		return nil, fmt.Errorf("count violations: %w", err)
	}
	defer rows.Close()
	var out []store.RepoViolations
	for rows.Next() {
		var r store.RepoViolations
		var last int64
		if err := rows.Scan(&r.Repo, &r.Allow, &r.Audit, &r.Quarantine, &r.InspectionFailed, &last); err != nil {
			return nil, fmt.Errorf("count violations: %w", err)
		}
		r.LastViolation = fromNanos(last)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count violations: %w", err)
	}
	return out, nil
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
		if _, err := tx.ExecContext(ctx, `DELETE FROM fw_verdict_vulns WHERE repo = ? AND digest = ?`, repo, d.String()); err != nil {
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
	severity := store.SeverityRank(q.Severity)
	if severity < 0 {
		return "", fmt.Errorf("put quarantine %s@%s: severity %q: %w", q.Repo, q.Digest, q.Severity, store.ErrInvalidFilter)
	}
	var id string
	err = m.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
INSERT INTO fw_quarantine (id, upstream, repo, tag, digest, platform, requested_at, requested_by, requested_from, policies, evidence, severity, max_score)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo, digest) DO NOTHING`,
			q.ID, q.Upstream, q.Repo, q.Tag, q.Digest.String(), q.Platform, nanos(q.RequestedAt), q.RequestedBy, q.RequestedFrom,
			string(policies), q.Evidence, severity, q.MaxScore)
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

const quarantineColumns = `id, upstream, repo, tag, digest, platform, requested_at, requested_by, requested_from, policies, evidence, severity, max_score`

func scanQuarantine(row interface{ Scan(...any) error }) (store.Quarantine, error) {
	var q store.Quarantine
	var at int64
	var policies string
	var severity int
	if err := row.Scan(&q.ID, &q.Upstream, &q.Repo, &q.Tag, &q.Digest, &q.Platform, &at, &q.RequestedBy, &q.RequestedFrom,
		&policies, &q.Evidence, &severity, &q.MaxScore); err != nil {
		return q, err
	}
	q.RequestedAt = fromNanos(at)
	if severity > 0 && severity < len(store.Severities) {
		q.Severity = store.Severities[severity]
	}
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

// quarantineWhere turns filter into a WHERE clause (empty when it selects
// all) and its arguments.
func quarantineWhere(filter store.QuarantineFilter) (string, []any, error) {
	if err := filter.Check(); err != nil {
		return "", nil, err
	}
	var where []string
	var args []any
	add := func(cond string, arg any) { where, args = append(where, cond), append(args, arg) }
	if filter.Repo != "" {
		add("repo = ?", filter.Repo)
	}
	if filter.Digest != "" {
		add("digest = ?", filter.Digest.String())
	}
	if filter.Policy != "" {
		add("EXISTS (SELECT 1 FROM json_each(policies) WHERE value = ?)", filter.Policy)
	}
	if filter.MinSeverity != "" {
		add("severity >= ?", store.SeverityRank(filter.MinSeverity))
	}
	if !filter.Since.IsZero() {
		add("requested_at >= ?", nanos(filter.Since))
	}
	if !filter.Until.IsZero() {
		add("requested_at < ?", nanos(filter.Until))
	}
	if len(where) == 0 {
		return "", nil, nil
	}
	return ` WHERE ` + strings.Join(where, " AND "), args, nil
}

// quarantineOrder is the ORDER BY of each store.QuarantineFilter sort.
var quarantineOrder = map[string]string{
	"":               `requested_at DESC, id`,
	store.SortNewest: `requested_at DESC, id`,
	store.SortOldest: `requested_at, id`,
	store.SortScore:  `max_score DESC, requested_at DESC, id`,
	store.SortRepo:   `repo, requested_at DESC, id`,
}

// Quarantines lists records matching filter in its order.
func (m *Meta) Quarantines(ctx context.Context, filter store.QuarantineFilter, offset, n int) ([]store.Quarantine, error) {
	where, args, err := quarantineWhere(filter)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	q := `SELECT ` + quarantineColumns + ` FROM fw_quarantine` + where +
		` ORDER BY ` + quarantineOrder[filter.Sort] + ` LIMIT ? OFFSET ?`
	args = append(args, limit(n), max(offset, 0))

	out, err := m.quarantines(ctx, q, args)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// CountQuarantines counts the records matching filter.
func (m *Meta) CountQuarantines(ctx context.Context, filter store.QuarantineFilter) (int, error) {
	where, args, err := quarantineWhere(filter)
	if err != nil {
		return 0, fmt.Errorf("count quarantine: %w", err)
	}
	var n int
	if err := m.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM fw_quarantine`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count quarantine: %w", err)
	}
	return n, nil
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
	if _, err := m.write.ExecContext(ctx, insertAudit, auditArgs(e)...); err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return nil
}

const insertAudit = `INSERT INTO fw_audit (at, actor, action, repo, digest, client, result, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

func auditArgs(e store.AuditEntry) []any {
	return []any{nanos(e.At), e.Actor, e.Action, e.Repo, e.Digest.String(), e.Client, e.Result, e.Details}
}

// AppendAudits adds entries in one transaction.
func (m *Meta) AppendAudits(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertAudit)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, auditArgs(e)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit entries: %w", len(entries), err)
	}
	return nil
}

// Audit lists entries matching filter in the order appended, or newest
// first.
func (m *Meta) Audit(ctx context.Context, filter store.AuditFilter, after int64, n int) ([]store.AuditEntry, error) {
	where, args := []string{"id > ?"}, []any{after}
	add := func(cond string, arg any) { where, args = append(where, cond), append(args, arg) }
	if filter.Repo != "" {
		add("repo = ?", filter.Repo)
	}
	if filter.Digest != "" {
		add("digest = ?", filter.Digest.String())
	}
	if filter.Action != "" {
		add("action = ?", filter.Action)
	}
	if filter.Actor != "" {
		add("actor = ?", filter.Actor)
	}
	if filter.Client != "" {
		add("client = ?", filter.Client)
	}
	if !filter.Since.IsZero() {
		add("at >= ?", nanos(filter.Since))
	}
	if !filter.Until.IsZero() {
		add("at < ?", nanos(filter.Until))
	}
	if filter.Before > 0 {
		add("id < ?", filter.Before)
	}
	order := "id"
	if filter.Newest {
		order = "id DESC"
	}
	rows, err := m.read.QueryContext(ctx, `SELECT id, at, actor, action, repo, digest, client, result, details FROM fw_audit WHERE `+
		strings.Join(where, " AND ")+` ORDER BY `+order+` LIMIT ?`, append(args, limit(n))...)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Repo, &e.Digest, &e.Client, &e.Result, &e.Details); err != nil {
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

// Pull actions of the audit log, as the firewall's pull log writes them.
const (
	actionPull       = "pull"
	actionPullDenied = "pull-denied"
)

// Pullers summarises who pulled image d of repo.
func (m *Meta) Pullers(ctx context.Context, repo string, d digest.Digest) ([]store.PullSummary, error) {
	rows, err := m.read.QueryContext(ctx, `
SELECT actor, client, SUM(action = ?), SUM(action = ?), MAX(at) FROM fw_audit
WHERE digest = ? AND repo = ? AND action IN (?, ?)
GROUP BY actor, client ORDER BY MAX(at) DESC, actor, client`,
		actionPull, actionPullDenied, d.String(), repo, actionPull, actionPullDenied)
	if err != nil {
		return nil, fmt.Errorf("summarise pulls of %s@%s: %w", repo, d, err)
	}
	defer rows.Close()
	var out []store.PullSummary
	for rows.Next() {
		var p store.PullSummary
		var last int64
		if err := rows.Scan(&p.User, &p.Client, &p.Count, &p.Denied, &last); err != nil {
			return nil, fmt.Errorf("summarise pulls of %s@%s: %w", repo, d, err)
		}
		p.Last = fromNanos(last)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summarise pulls of %s@%s: %w", repo, d, err)
	}
	return out, nil
}

// PutPolicies records the policies set at run time.
func (m *Meta) PutPolicies(ctx context.Context, policies []byte) error {
	_, err := m.write.ExecContext(ctx, `
INSERT INTO fw_policies (id, policies) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET policies = excluded.policies`, policies)
	if err != nil {
		return fmt.Errorf("put policies: %w", err)
	}
	return nil
}

// Policies returns the policies set at run time.
func (m *Meta) Policies(ctx context.Context) ([]byte, error) {
	var b []byte
	if err := m.read.QueryRowContext(ctx, `SELECT policies FROM fw_policies WHERE id = 1`).Scan(&b); err != nil {
		return nil, fmt.Errorf("read policies: %w", notFound(err))
	}
	return b, nil
}

// DeletePolicies removes the policies set at run time.
func (m *Meta) DeletePolicies(ctx context.Context) error {
	if _, err := m.write.ExecContext(ctx, `DELETE FROM fw_policies`); err != nil {
		return fmt.Errorf("delete policies: %w", err)
	}
	return nil
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
