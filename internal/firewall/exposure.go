package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/policy"
	"breakwater/internal/store"
)

// Exposure is one judged image that carries a vulnerability, and who
// pulled it.
type Exposure struct {
	Repo   string        `json:"repository"`
	Digest digest.Digest `json:"digest"`
	// Result is the image's verdict; Served whether it is served now.
	Result string `json:"result"`
	Served bool   `json:"served"`
	// Tag is a tag of the image, from its quarantine record or the
	// repository's cached tags; empty if none is known.
	Tag string `json:"tag,omitempty"`
	// Findings are the image's findings of the vulnerability.
	Findings []ExposedFinding `json:"findings"`
	// Pulls are the pulls logged for the image, per user and client.
	Pulls []store.PullSummary `json:"pulls"`
}

// ExposedFinding is one finding of a vulnerability in an image.
type ExposedFinding struct {
	ID        string   `json:"id"`
	Aliases   []string `json:"aliases,omitempty"`
	Ecosystem string   `json:"ecosystem,omitempty"`
	Package   string   `json:"package"`
	Installed string   `json:"installed"`
	// Fixed is the first version without it; empty when no fix is known.
	Fixed    string  `json:"fixed,omitempty"`
	Score    float64 `json:"score,omitempty"`
	Severity string  `json:"severity"`
	Malware  bool    `json:"malware,omitempty"`
}

// Exposure answers "which cached images carry vulnerability id (or one of
// its aliases), and who pulled them", by repository and digest. An id no
// judged image carries gives an empty list. Images judged before this
// version kept vulnerability ids are found once Reevaluate ran.
func (f *Firewall) Exposure(ctx context.Context, vulnID string) ([]Exposure, error) {
	vulnID = strings.TrimSpace(vulnID)
	if vulnID == "" {
		return nil, fmt.Errorf("exposure: empty vulnerability id: %w", ErrInvalid)
	}
	vs, err := f.st.VerdictsWithVuln(ctx, vulnID)
	if err != nil {
		return nil, fmt.Errorf("exposure to %s: %w", vulnID, err)
	}
	out := make([]Exposure, 0, len(vs))
	for _, v := range vs {
		full, err := f.st.Verdict(ctx, v.Repo, v.Digest)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("exposure to %s: %w", vulnID, err)
		}
		e, err := f.exposure(ctx, full, vulnID)
		if err != nil {
			return nil, fmt.Errorf("exposure to %s of %s@%s: %w", vulnID, v.Repo, v.Digest, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *Firewall) exposure(ctx context.Context, v store.Verdict, vulnID string) (Exposure, error) {
	ev, err := decodeEvidence(v.Evidence)
	if err != nil {
		return Exposure{}, err
	}
	served, err := f.serveable(ctx, v)
	if err != nil {
		return Exposure{}, err
	}
	e := Exposure{Repo: v.Repo, Digest: v.Digest, Result: v.Result, Served: served, Findings: []ExposedFinding{}}
	for _, fd := range ev.Findings {
		if carries(fd, vulnID) {
			e.Findings = append(e.Findings, exposedFinding(fd))
		}
	}
	if e.Pulls, err = f.st.Pullers(ctx, v.Repo, v.Digest); err != nil {
		return Exposure{}, err
	}
	if e.Pulls == nil {
		e.Pulls = []store.PullSummary{}
	}
	recs, err := f.st.Quarantines(ctx, store.QuarantineFilter{Repo: v.Repo, Digest: v.Digest}, 0, 1)
	if err != nil {
		return Exposure{}, err
	}
	if len(recs) > 0 && recs[0].Tag != "" {
		e.Tag = recs[0].Tag
	} else if f.opts.Meta != nil {
		e.Tag = f.tagOf(ctx, v.Repo, v.Digest)
	}
	return e, nil
}

// carries reports whether finding fd is of vulnerability id or an alias.
func carries(fd inventory.Finding, id string) bool {
	return strings.EqualFold(fd.ID, id) || slices.ContainsFunc(fd.Aliases, func(a string) bool { return strings.EqualFold(a, id) })
}

func exposedFinding(fd inventory.Finding) ExposedFinding {
	return ExposedFinding{
		ID:        fd.ID,
		Aliases:   fd.Aliases,
		Ecosystem: fd.Component.Ecosystem,
		Package:   fd.Component.Name,
		Installed: fd.Component.Version,
		Fixed:     fd.FixedVersion,
		Score:     fd.Score,
		Severity:  policy.SeverityOf(fd),
		Malware:   fd.Malware,
	}
}

// RepoViolations counts one repository's verdicts by result.
type RepoViolations = store.RepoViolations

// Violations returns, per repository with a judged image, its verdicts by
// result (audit-mode violations included) and the time of its latest
// violation or quarantine, by repository.
func (f *Firewall) Violations(ctx context.Context) ([]RepoViolations, error) {
	vs, err := f.st.Violations(ctx)
	if err != nil {
		return nil, err
	}
	if vs == nil {
		vs = []RepoViolations{}
	}
	return vs, nil
}
