package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Firewall is what the firewall keeps: verdicts per image and repository,
// the blobs each judged manifest references, inventories, quarantine
// records with their notes, waivers, the audit log, and the time the
// firewall was first enabled. Implementations are safe for concurrent use,
// also by several processes on the same storage (a CLI releasing an image
// while the server runs), so nothing here may be cached by callers without
// reading it again.
//
// Evidence and inventories are opaque bytes to the store: the firewall owns
// their encoding. Times come back in UTC with at least microsecond
// precision, as for Meta.
type Firewall interface {
	// FirewallSince records t as the time the firewall was first enabled,
	// unless a time is recorded already, and returns the recorded time.
	FirewallSince(ctx context.Context, t time.Time) (time.Time, error)

	// PutVerdict records v, replacing an earlier verdict of the same repo
	// and digest, together with the blobs (config and layers) the manifest
	// references, which replace its earlier list, and v.Vulns, which
	// replace its earlier ones. A ServedAt already recorded is kept, so a
	// re-evaluation racing a first serve loses nothing.
	PutVerdict(ctx context.Context, v Verdict, blobs []digest.Digest) error
	// UpdateVerdict replaces the result, marks, evidence and Vulns of an
	// existing verdict, keeping its blobs and served time, or returns
	// ErrNotFound, so a re-evaluation cannot bring back a verdict deleted
	// meanwhile.
	UpdateVerdict(ctx context.Context, v Verdict) error
	// Verdict returns the verdict of d in repo with its Vulns, or
	// ErrNotFound. The other methods leave Vulns empty.
	Verdict(ctx context.Context, repo string, d digest.Digest) (Verdict, error)
	// VerdictsWithVuln lists the verdicts, without their Evidence, whose
	// Vulns hold id (compared without regard to case), by repository and
	// digest; none is an empty list.
	VerdictsWithVuln(ctx context.Context, id string) ([]Verdict, error)
	// Violations counts, per repository with a verdict, the verdicts of
	// images (not artifacts) by result, with the time of the repository's
	// latest "violation" or "quarantined" audit entry, by repository.
	Violations(ctx context.Context) ([]RepoViolations, error)
	// Result is Verdict without the Evidence, for the check every pull
	// makes: evidence can run to megabytes.
	Result(ctx context.Context, repo string, d digest.Digest) (Verdict, error)
	// VerdictsOf lists the verdicts of image d in every repository, by
	// repository, without their Evidence.
	VerdictsOf(ctx context.Context, d digest.Digest) ([]Verdict, error)
	// Verdicts lists the verdicts after (repo, digest) last in that order,
	// at most n (n <= 0: all), for walking every judged image.
	Verdicts(ctx context.Context, last VerdictKey, n int) ([]Verdict, error)
	// MarkServed records that d was first served in repo at t; a time
	// already recorded is kept. A missing verdict is not an error.
	MarkServed(ctx context.Context, repo string, d digest.Digest, t time.Time) error
	// DeleteVerdict removes the verdict of d in repo and its blob list.
	// Deleting a missing verdict is not an error.
	DeleteVerdict(ctx context.Context, repo string, d digest.Digest) error
	// BlobOwners returns the verdicts of repo's judged manifests that
	// reference blob d, at most n (n <= 0: all), without their Evidence
	// (a base layer may have thousands of owners); none is an empty list.
	// Images whose result serves them (allow, audit) come first, then the
	// rest, each in manifest digest order, so one owner often answers.
	BlobOwners(ctx context.Context, repo string, d digest.Digest, n int) ([]Verdict, error)
	// OwnedBlobs returns the blobs recorded with the verdict of d in repo.
	OwnedBlobs(ctx context.Context, repo string, d digest.Digest) ([]digest.Digest, error)

	// PutInventory records what inspecting image d found, replacing an
	// earlier record; Inventory returns it or ErrNotFound.
	PutInventory(ctx context.Context, d digest.Digest, inv []byte) error
	Inventory(ctx context.Context, d digest.Digest) ([]byte, error)
	// DeleteInventory removes it; a missing one is not an error.
	DeleteInventory(ctx context.Context, d digest.Digest) error

	// PutQuarantine records q unless its repo and digest already have a
	// record, and returns the id of the record in force.
	PutQuarantine(ctx context.Context, q Quarantine) (string, error)
	// Quarantine returns the record with id, with its notes, or ErrNotFound.
	Quarantine(ctx context.Context, id string) (Quarantine, error)
	// Quarantines lists records with their notes, in filter.Sort's order
	// (newest request first by default), matching filter, skipping offset,
	// at most n (n <= 0: all). A filter that fails Check is an error
	// wrapping ErrInvalidFilter.
	Quarantines(ctx context.Context, filter QuarantineFilter, offset, n int) ([]Quarantine, error)
	// CountQuarantines counts the records matching filter.
	CountQuarantines(ctx context.Context, filter QuarantineFilter) (int, error)
	// DeleteQuarantine removes a record and its notes. Deleting a missing
	// record is not an error.
	DeleteQuarantine(ctx context.Context, id string) error
	// AddNote appends a note to the record with id, or returns ErrNotFound.
	AddNote(ctx context.Context, id string, n Note) error

	// PutWaiver records w, replacing the waiver of the same digest.
	PutWaiver(ctx context.Context, w Waiver) error
	// Waiver returns the waiver of d, or ErrNotFound.
	Waiver(ctx context.Context, d digest.Digest) (Waiver, error)
	// DeleteWaiver removes the waiver of d; a missing one is not an error.
	DeleteWaiver(ctx context.Context, d digest.Digest) error

	// AppendAudit adds e to the audit log; its ID is assigned by the store.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AppendAudits adds entries in one write, in their order: the pull log
	// writes in batches.
	AppendAudits(ctx context.Context, entries []AuditEntry) error
	// Audit lists entries matching filter in the order they were appended
	// (newest first with filter.Newest), after the entry with id after, at
	// most n (n <= 0: all).
	Audit(ctx context.Context, filter AuditFilter, after int64, n int) ([]AuditEntry, error)
	// Pullers summarises the "pull" and "pull-denied" entries of image d in
	// repo per user and client, the latest first.
	Pullers(ctx context.Context, repo string, d digest.Digest) ([]PullSummary, error)

	// PutPolicies records the policies set at run time (the firewall's
	// JSON), replacing earlier ones; Policies returns them or ErrNotFound;
	// DeletePolicies removes them (a missing set is not an error), so the
	// configuration's apply again.
	PutPolicies(ctx context.Context, policies []byte) error
	Policies(ctx context.Context) ([]byte, error)
	DeletePolicies(ctx context.Context) error

	// ForgetManifest removes the cache's record of manifest d in repo, so
	// the next pull fetches it again, and reports whether any repository
	// still records or references d (if not, its bytes may be deleted).
	ForgetManifest(ctx context.Context, repo string, d digest.Digest) (referenced bool, err error)
	// ForgetBlob removes the cache's record that repo references blob d
	// and reports whether any repository still references it.
	ForgetBlob(ctx context.Context, repo string, d digest.Digest) (referenced bool, err error)
}

// VerdictKey names one judged image in one repository.
type VerdictKey struct {
	Repo   string
	Digest digest.Digest
}

// Verdict is the firewall's judgement of one manifest in one repository.
type Verdict struct {
	Repo   string
	Digest digest.Digest
	// Result is the policy result: allow, audit, quarantine or
	// inspection-failed.
	Result string
	// Artifact marks a manifest that is not a runnable image (a signature,
	// an attestation), which is served without inspection.
	Artifact bool
	// BeforeFirewall marks an image cached before the firewall was first
	// enabled, which is audited rather than blocked.
	BeforeFirewall bool
	// Evidence is the firewall's encoding of the decision and findings.
	Evidence []byte
	// Vulns are the ids and aliases of the vulnerabilities found, for
	// VerdictsWithVuln.
	Vulns    []string
	JudgedAt time.Time
	// ServedAt is when the image was first served by its own verdict;
	// zero if never. Pulls a waiver let through do not count.
	ServedAt time.Time
}

// Quarantine is the record of an image withheld from clients.
type Quarantine struct {
	ID       string
	Upstream string
	Repo     string
	Tag      string
	Digest   digest.Digest
	// Platform is "os/arch" from the image config.
	Platform    string
	RequestedAt time.Time
	// RequestedBy is the user who asked first, or their address when the
	// user is not known; RequestedFrom is the address.
	RequestedBy   string
	RequestedFrom string
	// Policies are the names of the policies that failed.
	Policies []string
	// Severity is the highest severity of the findings (one of
	// Severities, "" for none) and MaxScore their highest score, which
	// QuarantineFilter selects and sorts by.
	Severity string
	MaxScore float64
	// Evidence is the firewall's encoding of components and findings.
	Evidence []byte
	Notes    []Note
}

// Note is an admin's remark on a quarantine record.
type Note struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

// QuarantineFilter selects quarantine records; empty fields select all.
type QuarantineFilter struct {
	Repo   string
	Digest digest.Digest
	// Policy selects records whose failed policies include this name.
	Policy string
	// MinSeverity selects records whose Severity is this one of
	// Severities or above.
	MinSeverity string
	// Since and Until select records requested at or after Since and
	// before Until.
	Since, Until time.Time
	// Sort is one of the QuarantineSort constants; "" is SortNewest.
	Sort string
}

// Orders of quarantine records.
const (
	SortNewest = "newest" // by request time, newest first
	SortOldest = "oldest" // by request time, oldest first
	SortScore  = "score"  // by highest score, highest first, then newest
	SortRepo   = "repo"   // by repository, then newest first
)

// ErrInvalidFilter is returned, wrapped, for a filter that asks for an
// unknown severity or sort order.
var ErrInvalidFilter = errors.New("invalid filter")

// Check returns an error wrapping ErrInvalidFilter if the filter names an
// unknown severity or order, or an Until before Since.
func (f QuarantineFilter) Check() error {
	if f.MinSeverity != "" && SeverityRank(f.MinSeverity) < 0 {
		return fmt.Errorf("severity %q is not one of %s: %w", f.MinSeverity, strings.Join(Severities, ", "), ErrInvalidFilter)
	}
	switch f.Sort {
	case "", SortNewest, SortOldest, SortScore, SortRepo:
	default:
		return fmt.Errorf("sort %q is not one of newest, oldest, score, repo: %w", f.Sort, ErrInvalidFilter)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("until %s is before since %s: %w", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339), ErrInvalidFilter)
	}
	return nil
}

// Severities are the qualitative levels in ascending order.
var Severities = []string{"none", "low", "medium", "high", "critical"}

// SeverityRank returns the index of s in Severities ("" counts as none),
// or -1 if s is not one.
func SeverityRank(s string) int {
	if s == "" {
		return 0
	}
	return slices.Index(Severities, strings.ToLower(s))
}

// Waiver releases one image digest until Expires (zero: never).
type Waiver struct {
	Digest    digest.Digest `json:"digest"`
	By        string        `json:"by"`
	Reason    string        `json:"reason"`
	CreatedAt time.Time     `json:"created_at"`
	// Expires is omitted from JSON when zero (no expiry).
	Expires time.Time `json:"expires,omitzero"`
}

// AuditEntry is one decision or action of the firewall or an admin, or
// one pull.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Repo   string
	Digest digest.Digest
	// Client is the address the request came from, when known.
	Client string
	// Result is the verdict a pull was answered by (allow, audit,
	// quarantine, not-inspected, off, ...); empty for other actions.
	Result  string
	Details string
}

// AuditFilter selects audit entries; empty fields select all.
type AuditFilter struct {
	Repo   string
	Digest digest.Digest
	Action string
	Actor  string
	Client string
	// Since and Until select entries at or after Since and before Until.
	Since, Until time.Time
	// Before selects entries with an id below it (0: no bound): the
	// cursor of newest-first paging.
	Before int64
	// Newest lists the newest entries first.
	Newest bool
}

// PullSummary is how often one user from one client pulled an image.
type PullSummary struct {
	User   string `json:"user"`
	Client string `json:"client,omitempty"`
	// Count is the pulls served, Denied the ones refused.
	Count  int       `json:"count"`
	Denied int       `json:"denied,omitempty"`
	Last   time.Time `json:"last"`
}

// RepoViolations counts one repository's verdicts by result.
type RepoViolations struct {
	Repo             string `json:"repository"`
	Allow            int    `json:"allow"`
	Audit            int    `json:"audit"`
	Quarantine       int    `json:"quarantine"`
	InspectionFailed int    `json:"inspection_failed"`
	// LastViolation is the time of the latest violation or quarantine
	// recorded for the repository; zero if none.
	LastViolation time.Time `json:"last_violation,omitzero"`
}
