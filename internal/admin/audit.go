package admin

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/firewall"
	"breakwater/internal/store"
)

// AuditActions lists every action the audit log records, so a filter on
// an unknown one is an error rather than an empty page.
var AuditActions = []string{
	firewall.ActionPull, firewall.ActionPullDenied,
	firewall.ActionJudged, firewall.ActionQuarantined, firewall.ActionViolation,
	firewall.ActionNotInspected, firewall.ActionReleased, firewall.ActionDeleted,
	firewall.ActionNoted, firewall.ActionReevaluated,
	firewall.ActionPoliciesUpdated, firewall.ActionPoliciesReset,
	ActionUserAdded, ActionUserDeleted, ActionRoleChanged, ActionPasswordChanged,
	ActionTokenCreated, ActionTokenRevoked,
}

// AuditQuery selects audit entries, newest first; zero fields select all.
type AuditQuery struct {
	Since, Until time.Time
	// User is the actor: who pulled, released or changed something.
	User string
	// Client is the address a pull came from.
	Client string
	Repo   string
	Digest digest.Digest
	Action string
	// Before pages: only entries with a smaller id (0: from the newest).
	Before int64
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
}

// AuditPage is one page of entries, newest first. Next is the Before of
// the next page, 0 when this is the last.
type AuditPage struct {
	Items []store.AuditEntry `json:"items"`
	Next  int64              `json:"next,omitempty"`
}

// CheckAuditAction returns ErrInvalid, naming the known actions, for an
// action the audit log does not record, so a filter on it is an error
// rather than an empty page.
func CheckAuditAction(action string) error {
	if !slices.Contains(AuditActions, action) {
		return invalidf("action %q is unknown; known actions: %s", action, strings.Join(AuditActions, ", "))
	}
	return nil
}

func (q *AuditQuery) check() error {
	switch {
	case q.Before < 0:
		return invalidf("before %d is negative", q.Before)
	case q.Limit < 0 || q.Limit > MaxLimit:
		return invalidf("limit %d is not between 0 and %d", q.Limit, MaxLimit)
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since):
		return invalidf("until is before since")
	case q.Digest != "" && q.Digest.Validate() != nil:
		return invalidf("digest %q is malformed", q.Digest)
	case q.Action != "":
		if err := CheckAuditAction(q.Action); err != nil {
			return err
		}
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	return nil
}

// Audit returns one page of the audit log, newest first.
func (s *Service) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if err := q.check(); err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Items: []store.AuditEntry{}}
	if s.opts.Records == nil {
		return page, nil
	}
	f := store.AuditFilter{
		Repo: q.Repo, Digest: q.Digest, Action: q.Action, Actor: q.User, Client: q.Client,
		Since: q.Since, Until: q.Until, Before: q.Before, Newest: true,
	}
	// One more than the page tells whether there is a next page.
	es, err := s.opts.Records.Audit(ctx, f, 0, q.Limit+1)
	if err != nil {
		return AuditPage{}, fmt.Errorf("read the audit log: %w", err)
	}
	if len(es) > q.Limit {
		es = es[:q.Limit]
		page.Next = es[len(es)-1].ID
	}
	if es != nil {
		page.Items = es
	}
	return page, nil
}

// Violations counts every repository's verdicts by result, with the time
// of its latest violation; none without a firewall store.
func (s *Service) Violations(ctx context.Context) ([]store.RepoViolations, error) {
	if s.opts.Records == nil {
		return []store.RepoViolations{}, nil
	}
	vs, err := s.opts.Records.Violations(ctx)
	if err != nil {
		return nil, fmt.Errorf("count violations: %w", err)
	}
	if vs == nil {
		vs = []store.RepoViolations{}
	}
	return vs, nil
}

// Exposure is one image carrying a vulnerability, and who pulled it.
type Exposure struct {
	Repo   string        `json:"repository"`
	Digest digest.Digest `json:"digest"`
	// Result is the image's verdict: allow, audit, quarantine, ...
	Result  string              `json:"result"`
	Pullers []store.PullSummary `json:"pullers"`
}

// vulnIDRE is what a vulnerability id or alias looks like: CVE-2024-3094,
// GHSA-xxxx-xxxx-xxxx, MAL-2024-1, DSA-5678-1, debian:12/CVE-...
var vulnIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)

// Exposure lists the judged images whose findings include vulnID (an id
// or alias), by repository and digest, with who pulled each.
func (s *Service) Exposure(ctx context.Context, vulnID string) ([]Exposure, error) {
	if !vulnIDRE.MatchString(vulnID) {
		return nil, invalidf("vulnerability id %q is malformed", vulnID)
	}
	out := []Exposure{}
	if s.opts.Records == nil {
		return out, nil
	}
	vs, err := s.opts.Records.VerdictsWithVuln(ctx, vulnID)
	if err != nil {
		return nil, fmt.Errorf("images with %s: %w", vulnID, err)
	}
	for _, v := range vs {
		ps, err := s.opts.Records.Pullers(ctx, v.Repo, v.Digest)
		if err != nil {
			return nil, fmt.Errorf("pulls of %s in %s: %w", v.Digest, v.Repo, err)
		}
		if ps == nil {
			ps = []store.PullSummary{}
		}
		out = append(out, Exposure{Repo: v.Repo, Digest: v.Digest, Result: v.Result, Pullers: ps})
	}
	return out, nil
}
