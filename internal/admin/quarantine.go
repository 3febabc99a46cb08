package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// Limits of a page of quarantine records.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Sort orders of QuarantineQuery.
const (
	SortNewest = store.SortNewest // by request time, newest first (the default)
	SortOldest = store.SortOldest
	SortScore  = store.SortScore // by highest score, highest first, then newest
	SortRepo   = store.SortRepo  // by repository, then newest first
)

// QuarantineQuery selects and orders quarantine records; zero fields
// select all.
type QuarantineQuery struct {
	Repo string
	// Policy selects records one of whose failed policies has this name.
	Policy string
	// Severity selects records with a finding at this level or above:
	// none, low, medium, high or critical.
	Severity     string
	Since, Until time.Time
	Sort         string
	Offset       int
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
}

// QuarantinePage is one page of records and how many match in all.
type QuarantinePage struct {
	Items  []firewall.Record `json:"items"`
	Total  int               `json:"total"`
	Offset int               `json:"offset"`
	Limit  int               `json:"limit"`
}

// filter validates q, fills its defaults and returns the store's filter.
func (q *QuarantineQuery) filter() (store.QuarantineFilter, error) {
	switch {
	case q.Offset < 0:
		return store.QuarantineFilter{}, invalidf("offset %d is negative", q.Offset)
	case q.Limit < 0 || q.Limit > MaxLimit:
		return store.QuarantineFilter{}, invalidf("limit %d is not between 0 and %d", q.Limit, MaxLimit)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Sort == "" {
		q.Sort = SortNewest
	}
	f := store.QuarantineFilter{
		Repo: q.Repo, Policy: q.Policy, MinSeverity: q.Severity,
		Since: q.Since, Until: q.Until, Sort: q.Sort,
	}
	if err := f.Check(); err != nil {
		return store.QuarantineFilter{}, invalidf("%w", err)
	}
	return f, nil
}

// Quarantines returns one page of the quarantine records q selects. With
// the firewall off there are none.
func (s *Service) Quarantines(ctx context.Context, q QuarantineQuery) (QuarantinePage, error) {
	f, err := q.filter()
	if err != nil {
		return QuarantinePage{}, err
	}
	page := QuarantinePage{Items: []firewall.Record{}, Offset: q.Offset, Limit: q.Limit}
	if s.opts.Firewall == nil || s.opts.Records == nil {
		return page, nil
	}
	if page.Total, err = s.opts.Records.CountQuarantines(ctx, f); err != nil {
		return QuarantinePage{}, fmt.Errorf("count quarantine records: %w", err)
	}
	recs, err := s.opts.Firewall.List(ctx, f, q.Offset, q.Limit)
	if err != nil {
		return QuarantinePage{}, fmt.Errorf("list quarantine records: %w", err)
	}
	if recs != nil {
		page.Items = recs
	}
	return page, nil
}

// Quarantine returns the record with id, or store.ErrNotFound.
func (s *Service) Quarantine(ctx context.Context, id string) (firewall.Record, error) {
	if err := CheckQuarantineID(id); err != nil {
		return firewall.Record{}, err
	}
	if s.opts.Firewall == nil {
		return firewall.Record{}, fmt.Errorf("quarantine record %s: %w", id, store.ErrNotFound)
	}
	recs, err := s.opts.Firewall.Show(ctx, id)
	if err != nil {
		return firewall.Record{}, err
	}
	return recs[0], nil
}

// CheckQuarantineID returns ErrInvalid for what cannot be a quarantine id
// (letters, digits, '.', '_' and '-') or a digest naming records, before
// a store sees it or a terminal prints it.
func CheckQuarantineID(id string) error {
	if strings.Contains(id, ":") {
		if _, err := oci.ParseDigest(id); err != nil {
			return invalidf("digest %q is malformed", id)
		}
		return nil
	}
	if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) {
		return invalidf("quarantine id %q is malformed", id)
	}
	return nil
}

// checkText requires a reason or note: not empty, not huge.
func checkText(what, text string) error {
	switch t := strings.TrimSpace(text); {
	case t == "":
		return invalidf("a %s is required", what)
	case len(text) > 4096:
		return invalidf("the %s is longer than 4096 bytes", what)
	case !utf8.ValidString(text):
		return invalidf("the %s is not valid UTF-8", what)
	case strings.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }):
		// They would reach terminals through the CLI and the audit log.
		return invalidf("the %s holds control characters other than newlines and tabs", what)
	}
	return nil
}

// quarantineAction checks what every change of a record needs: an admin,
// a well-formed id, a text, and a firewall.
func (s *Service) quarantineAction(p auth.Principal, id, what, text string) (*firewall.Firewall, error) {
	if err := admin(p); err != nil {
		return nil, err
	}
	if err := CheckQuarantineID(id); err != nil {
		return nil, err
	}
	if err := checkText(what, text); err != nil {
		return nil, err
	}
	if s.opts.Firewall == nil {
		return nil, fmt.Errorf("quarantine record %s: %w", id, store.ErrNotFound)
	}
	return s.opts.Firewall, nil
}

// Release lets the image of the record with id be pulled, in every
// repository, from now on. The firewall records the release in the audit
// log with the reason.
func (s *Service) Release(ctx context.Context, p auth.Principal, id, reason string) error {
	fw, err := s.quarantineAction(p, id, "reason", reason)
	if err != nil {
		return err
	}
	if _, err := fw.Show(ctx, id); err != nil { // a release needs a record here
		return err
	}
	return fw.Release(ctx, id, p.User, reason, time.Time{})
}

// Delete removes the record with id and what the cache holds of its
// image, so the next pull judges it afresh.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id, reason string) error {
	fw, err := s.quarantineAction(p, id, "reason", reason)
	if err != nil {
		return err
	}
	if _, err := fw.Show(ctx, id); err != nil { // never delete unrecorded verdicts here
		return err
	}
	return fw.Delete(ctx, id, p.User, reason)
}

// AddNote adds an admin's note to the record with id.
func (s *Service) AddNote(ctx context.Context, p auth.Principal, id, text string) error {
	fw, err := s.quarantineAction(p, id, "note", text)
	if err != nil {
		return err
	}
	return fw.AddNote(ctx, id, p.User, text)
}
