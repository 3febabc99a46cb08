package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"breakwater/internal/store"
)

// Repository is one cached repository as admins see it.
type Repository struct {
	// Name is canonical: upstream name, "/", path on the upstream.
	Name     string `json:"name"`
	Upstream string `json:"upstream"`
	Tags     int    `json:"tags"`
	// Verdicts counts the judged images of the repository by result
	// (allow, audit, quarantine, inspection-failed).
	Verdicts map[string]int `json:"verdicts"`
	// LastViolation is the time of the latest violation or quarantine in
	// the repository; zero if none.
	LastViolation time.Time `json:"last_violation,omitzero"`
}

// Repositories lists the cached repositories by name, with their tag
// counts and verdicts.
func (s *Service) Repositories(ctx context.Context) ([]Repository, error) {
	names, err := s.opts.Meta.Repositories(ctx, "", 0)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	vs, err := s.Violations(ctx)
	if err != nil {
		return nil, err
	}
	byRepo := make(map[string]store.RepoViolations, len(vs))
	for _, v := range vs {
		byRepo[v.Repo] = v
	}
	out := make([]Repository, 0, len(names))
	for _, name := range names {
		tags, err := s.opts.Meta.Tags(ctx, name, "", 0)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("list tags of %s: %w", name, err)
		}
		up, _, _ := strings.Cut(name, "/")
		v := byRepo[name]
		out = append(out, Repository{
			Name: name, Upstream: up, Tags: len(tags), LastViolation: v.LastViolation,
			Verdicts: map[string]int{
				"allow": v.Allow, "audit": v.Audit, "quarantine": v.Quarantine, "inspection-failed": v.InspectionFailed,
			},
		})
	}
	return out, nil
}

// VulnSource is one imported source of vulnerability data.
type VulnSource struct {
	Name       string         `json:"name"`
	Records    int            `json:"records"`
	Counts     map[string]int `json:"counts"`
	ImportedAt time.Time      `json:"imported_at"`
	// Age is how long ago it was imported, in seconds.
	Age float64 `json:"age_seconds"`
}

// VulnDBStatus says what vulnerability data is loaded.
type VulnDBStatus struct {
	// Ready is whether the firewall can judge images with it.
	Ready   bool         `json:"ready"`
	Sources []VulnSource `json:"sources"`
	// Age is that of the oldest source, in seconds; 0 with none.
	Age float64 `json:"age_seconds"`
}

// VulnDB reports the imported sources and whether the data is ready.
func (s *Service) VulnDB(ctx context.Context) (VulnDBStatus, error) {
	st := VulnDBStatus{Sources: []VulnSource{}}
	if s.opts.VulnDB == nil {
		return st, nil
	}
	srcs, err := s.opts.VulnDB.Status(ctx)
	if err != nil {
		return VulnDBStatus{}, err
	}
	if st.Ready, err = s.opts.VulnDB.Ready(ctx); err != nil {
		return VulnDBStatus{}, fmt.Errorf("vulnerability data readiness: %w", err)
	}
	now := s.opts.Now()
	for _, src := range srcs {
		age := now.Sub(src.ImportedAt)
		st.Sources = append(st.Sources, VulnSource{
			Name: src.Name, Records: src.Records, Counts: src.Counts, ImportedAt: src.ImportedAt, Age: age.Seconds(),
		})
		st.Age = max(st.Age, age.Seconds())
	}
	return st, nil
}

// vulnDBAge is how old the oldest vulnerability data is, 0 with none.
func (s *Service) vulnDBAge(ctx context.Context) time.Duration {
	st, err := s.VulnDB(ctx)
	if err != nil {
		return 0
	}
	return time.Duration(st.Age * float64(time.Second))
}

// UpstreamStatus is one upstream registry as the cache and its client
// see it.
type UpstreamStatus struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Default bool   `json:"default"`
	// Healthy is false while the cache's breaker holds it down after a
	// failure, until DownUntil (cached tags are served stale meanwhile),
	// and while its last request failed for good with no answer since.
	Healthy   bool      `json:"healthy"`
	DownUntil time.Time `json:"down_until,omitzero"`
	// LastError is the last request that failed for good, and when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// LastAnswerAt is when it last answered a request.
	LastAnswerAt time.Time `json:"last_answer_at,omitzero"`
	// RateLimit is what the upstream last said of its pull limit; nil
	// until it said anything.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
}

// RateLimit is an upstream's pull limit as its last answers gave it.
type RateLimit struct {
	Limit         int     `json:"limit"`
	Remaining     int     `json:"remaining"`
	WindowSeconds float64 `json:"window_seconds,omitempty"`
	// ResetAt is when the upstream said, refusing a pull, that it takes
	// pulls again.
	ResetAt time.Time `json:"reset_at,omitzero"`
}

// Upstreams returns the status of every configured upstream, by name.
func (s *Service) Upstreams(ctx context.Context) []UpstreamStatus {
	if s.opts.Upstreams == nil {
		return []UpstreamStatus{}
	}
	return s.opts.Upstreams()
}
