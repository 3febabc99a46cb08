package firewall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// Record is a quarantine record as admins see it.
type Record struct {
	ID          string        `json:"id"`
	Upstream    string        `json:"upstream"`
	Repo        string        `json:"repository"`
	Tag         string        `json:"tag,omitempty"`
	Digest      digest.Digest `json:"digest"`
	Platform    string        `json:"platform,omitempty"`
	RequestedAt time.Time     `json:"requested_at"`
	RequestedBy string        `json:"requested_by,omitempty"`
	// RequestedFrom is the address of the first requester.
	RequestedFrom string   `json:"requested_from,omitempty"`
	Policies      []string `json:"policies"`
	// Severity is the highest severity of the findings (none when empty)
	// and MaxScore their highest score.
	Severity string       `json:"severity,omitempty"`
	MaxScore float64      `json:"max_score,omitempty"`
	Evidence Evidence     `json:"evidence"`
	Notes    []store.Note `json:"notes,omitempty"`
	// Waiver is the release of the digest, if any; Released says whether
	// it is in force now.
	Waiver   *store.Waiver `json:"waiver,omitempty"`
	Released bool          `json:"released"`
	// Result is the image's verdict now, which a re-evaluation may have
	// changed since it was quarantined.
	Result string `json:"result,omitempty"`
}

// Filter selects quarantine records; empty fields select all.
type Filter = store.QuarantineFilter

// List returns quarantine records matching filter in its order (newest
// first by default), skipping offset and returning at most n (n <= 0:
// all). A filter with an unknown severity or order is an error wrapping
// ErrInvalid.
func (f *Firewall) List(ctx context.Context, filter Filter, offset, n int) ([]Record, error) {
	if err := filter.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	qs, err := f.st.Quarantines(ctx, filter, offset, n)
	if err != nil {
		return nil, err
	}
	return f.records(ctx, qs)
}

// Count returns how many quarantine records match filter, for paging List.
func (f *Firewall) Count(ctx context.Context, filter Filter) (int, error) {
	if err := filter.Check(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return f.st.CountQuarantines(ctx, filter)
}

// Show returns the record with the quarantine id or image digest; a
// digest quarantined in several repositories gives each record.
func (f *Firewall) Show(ctx context.Context, idOrDigest string) ([]Record, error) {
	qs, err := f.resolve(ctx, idOrDigest)
	if err != nil {
		return nil, err
	}
	return f.records(ctx, qs)
}

func (f *Firewall) records(ctx context.Context, qs []store.Quarantine) ([]Record, error) {
	out := make([]Record, 0, len(qs))
	for _, q := range qs {
		ev, err := decodeEvidence(q.Evidence)
		if err != nil {
			return nil, err
		}
		r := Record{
			ID: q.ID, Upstream: q.Upstream, Repo: q.Repo, Tag: q.Tag, Digest: q.Digest,
			Platform: q.Platform, RequestedAt: q.RequestedAt, RequestedBy: q.RequestedBy,
			RequestedFrom: q.RequestedFrom, Policies: q.Policies, Severity: q.Severity, MaxScore: q.MaxScore,
			Evidence: ev, Notes: q.Notes,
		}
		switch v, err := f.st.Verdict(ctx, q.Repo, q.Digest); {
		case err == nil:
			r.Result = v.Result
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		w, err := f.st.Waiver(ctx, q.Digest)
		switch {
		case err == nil:
			r.Waiver, r.Released = &w, waiverInForce(w, f.opts.Now())
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// resolve finds the records an id or image digest names, or ErrNotFound.
func (f *Firewall) resolve(ctx context.Context, idOrDigest string) ([]store.Quarantine, error) {
	if d, err := oci.ParseDigest(idOrDigest); err == nil {
		qs, err := f.st.Quarantines(ctx, store.QuarantineFilter{Digest: d}, 0, 0)
		if err != nil {
			return nil, err
		}
		if len(qs) == 0 {
			return nil, fmt.Errorf("quarantine record for %s: %w", d, store.ErrNotFound)
		}
		return qs, nil
	}
	q, err := f.st.Quarantine(ctx, idOrDigest)
	if err != nil {
		return nil, err
	}
	return []store.Quarantine{q}, nil
}

// Release lets the image a quarantine id or digest names be pulled: a
// waiver for that digest, in every repository, until expires (zero:
// never). A digest with no record may be released ahead of its first pull.
func (f *Firewall) Release(ctx context.Context, idOrDigest, by, reason string, expires time.Time) error {
	d, repos, err := f.target(ctx, idOrDigest)
	if err != nil {
		return err
	}
	w := store.Waiver{Digest: d, By: by, Reason: reason, CreatedAt: f.opts.Now(), Expires: expires}
	if err := f.st.PutWaiver(ctx, w); err != nil {
		return err
	}
	details := "reason=" + reason
	if !expires.IsZero() {
		details += " expires=" + expires.UTC().Format(time.RFC3339)
	}
	for _, repo := range repos {
		if err := f.audit(ctx, by, ActionReleased, repo, d, details); err != nil {
			return err
		}
	}
	return nil
}

// target returns the digest an id or digest names and the repositories
// of its records ("" when a digest has none).
func (f *Firewall) target(ctx context.Context, idOrDigest string) (digest.Digest, []string, error) {
	qs, err := f.resolve(ctx, idOrDigest)
	if d, perr := oci.ParseDigest(idOrDigest); perr == nil && errors.Is(err, store.ErrNotFound) {
		return d, []string{""}, nil
	}
	if err != nil {
		return "", nil, err
	}
	repos := make([]string, len(qs))
	for i, q := range qs {
		repos[i] = q.Repo
	}
	return qs[0].Digest, repos, nil
}

// Delete removes the records an id or digest names, with their verdicts,
// waiver and the cached manifest and blobs no other image of the
// repository references, so the next pull fetches and judges the image
// afresh.
//
// A digest without a record (an image served and audited) has its verdicts
// in every repository deleted the same way.
func (f *Firewall) Delete(ctx context.Context, idOrDigest, by, reason string) error {
	qs, err := f.resolve(ctx, idOrDigest)
	if d, perr := oci.ParseDigest(idOrDigest); perr == nil && errors.Is(err, store.ErrNotFound) {
		return f.deleteJudged(ctx, d, by, reason)
	}
	if err != nil {
		return err
	}
	for _, q := range qs {
		if err := f.st.DeleteQuarantine(ctx, q.ID); err != nil {
			return err
		}
		if err := f.purge(ctx, q.Repo, q.Digest); err != nil {
			return err
		}
		if err := f.audit(ctx, by, ActionDeleted, q.Repo, q.Digest, "id="+q.ID+" reason="+reason); err != nil {
			return err
		}
	}
	return f.forgetImage(ctx, qs[0].Digest)
}

// deleteJudged deletes the verdicts of image d in every repository, or
// returns ErrNotFound if it has none.
func (f *Firewall) deleteJudged(ctx context.Context, d digest.Digest, by, reason string) error {
	repos, err := f.judgedIn(ctx, d)
	if err != nil {
		return err
	}
	if len(repos) == 0 {
		return fmt.Errorf("verdict of %s: %w", d, store.ErrNotFound)
	}
	for _, repo := range repos {
		if err := f.purge(ctx, repo, d); err != nil {
			return err
		}
		if err := f.audit(ctx, by, ActionDeleted, repo, d, "reason="+reason); err != nil {
			return err
		}
	}
	return f.forgetImage(ctx, d)
}

// judgedIn lists the repositories with a verdict of image d.
func (f *Firewall) judgedIn(ctx context.Context, d digest.Digest) ([]string, error) {
	vs, err := f.st.VerdictsOf(ctx, d)
	if err != nil {
		return nil, err
	}
	repos := make([]string, len(vs))
	for i, v := range vs {
		repos[i] = v.Repo
	}
	return repos, nil
}

// forgetImage drops the waiver of a deleted image and, unless another
// repository still has a verdict of it, its inventory, so the next pull
// inspects it again rather than reusing what an older scanner found.
func (f *Firewall) forgetImage(ctx context.Context, d digest.Digest) error {
	if err := f.st.DeleteWaiver(ctx, d); err != nil {
		return err
	}
	repos, err := f.judgedIn(ctx, d)
	if err != nil || len(repos) > 0 {
		return err
	}
	return f.st.DeleteInventory(ctx, d)
}

// purge forgets image d of repo: its verdict, and what the cache holds of
// it that nothing else needs.
//
// TODO: a blob deleted here while a client of another repository is
// reading it from the store fails that read; the filesystem keeps an open
// file readable, other backends may not.
func (f *Firewall) purge(ctx context.Context, repo string, d digest.Digest) error {
	blobs, err := f.st.OwnedBlobs(ctx, repo, d)
	if err != nil {
		return err
	}
	if err := f.st.DeleteVerdict(ctx, repo, d); err != nil {
		return err
	}
	for _, b := range blobs {
		owners, err := f.st.BlobOwners(ctx, repo, b, 1)
		if err != nil {
			return err
		}
		if len(owners) > 0 {
			continue // another judged image of repo uses it
		}
		if err := f.forget(ctx, b, func() (bool, error) { return f.st.ForgetBlob(ctx, repo, b) }); err != nil {
			return err
		}
	}
	return f.forget(ctx, d, func() (bool, error) { return f.st.ForgetManifest(ctx, repo, d) })
}

// forget runs drop, which removes a cache record, and deletes the bytes
// when no repository references them any more.
func (f *Firewall) forget(ctx context.Context, d digest.Digest, drop func() (bool, error)) error {
	referenced, err := drop()
	if err != nil || referenced {
		return err
	}
	return f.opts.Blobs.Delete(ctx, d)
}

// AddNote adds an admin's note to the records an id or digest names.
func (f *Firewall) AddNote(ctx context.Context, idOrDigest, by, text string) error {
	qs, err := f.resolve(ctx, idOrDigest)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if err := f.st.AddNote(ctx, q.ID, store.Note{At: f.opts.Now(), By: by, Text: text}); err != nil {
			return err
		}
		if err := f.audit(ctx, by, ActionNoted, q.Repo, q.Digest, "id="+q.ID+" text="+text); err != nil {
			return err
		}
	}
	return nil
}

// Audit lists audit entries matching filter after the entry with id
// after, oldest first (newest first with filter.Newest, paged by
// filter.Before), at most n (n <= 0: all). Pulls are entries with action
// ActionPull or ActionPullDenied.
func (f *Firewall) Audit(
	ctx context.Context,
	filter store.AuditFilter,
	after int64,
	n int,
) ([]store.AuditEntry, error) {
	return f.st.Audit(ctx, filter, after, n)
}

// waiverInForce reports whether w applies at now.
func waiverInForce(w store.Waiver, now time.Time) bool {
	return w.Expires.IsZero() || now.Before(w.Expires)
}
