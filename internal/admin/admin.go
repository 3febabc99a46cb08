// Package admin is the one facade over breakwater's administration that the
// JSON API (internal/api) and the dashboard (internal/ui) both use, so the
// two surfaces cannot disagree about who may do what: quarantine records,
// the audit log, exposure to a vulnerability, policies, repositories,
// upstream and vulnerability-data status, statistics, users and API tokens.
//
// Reads take no principal: the caller decides who may read (any
// authenticated user). Every method that changes something takes the acting
// auth.Principal, refuses with ErrForbidden unless it may act, and leaves an
// audit entry naming the actor. Bad input is ErrInvalid, a missing record
// store.ErrNotFound and a feature that is switched off ErrUnavailable, all
// matched with errors.Is, so a surface maps them to statuses without
// reading messages.
//
// Files: admin.go holds the options and errors, quarantine.go the
// quarantine records, audit.go the audit log, exposure, violations and
// policies, status.go repositories, upstreams and vulnerability data,
// overview.go the statistics of the front page, accounts.go users and
// tokens.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
	"breakwater/internal/vulndb"
)

var (
	// ErrForbidden is returned when the principal may not do what it asked.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid is returned for bad input: a missing reason, a malformed
	// name, a negative limit.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable is returned when what was asked for is switched off,
	// such as quarantine actions with the firewall off everywhere.
	ErrUnavailable = errors.New("unavailable")
)

// Options configure a Service. Auth and Meta are required; the rest may be
// nil when the feature is absent.
type Options struct {
	Auth *auth.Service
	// Firewall is nil when the firewall is off everywhere.
	Firewall *firewall.Firewall
	// Meta holds repositories and tags.
	Meta store.Meta
	// Records is the firewall's store, for verdict counts per repository
	// and the audit entries of account changes; nil without a firewall
	// store.
	Records store.Firewall
	// Stats holds the hourly counters of the overview; nil: none.
	Stats  store.Stats
	VulnDB *vulndb.DB
	// Upstreams reports the upstreams' status; nil: none.
	Upstreams func() []UpstreamStatus
	// Config is the running configuration, shown redacted.
	Config config.Config
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the administration facade. It is safe for concurrent use.
type Service struct {
	opts Options
	log  *slog.Logger
}

// New returns a Service over opts.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts, log: telemetry.OrDiscard(opts.Logger)}
}

// Config returns the running configuration with secrets masked.
func (s *Service) Config() config.Config { return s.opts.Config.Redacted() }

// admin refuses anyone who is not an admin.
func admin(p auth.Principal) error {
	if !p.IsAdmin() {
		return fmt.Errorf("%s is not an admin: %w", orAnonymous(p.User), ErrForbidden)
	}
	return nil
}

// selfOrAdmin lets admins act on any user and others only on themselves.
func selfOrAdmin(p auth.Principal, user string) error {
	if p.IsAdmin() || (p.User != "" && p.User == user) {
		return nil
	}
	return fmt.Errorf("%s may not act for user %s: %w", orAnonymous(p.User), user, ErrForbidden)
}

func orAnonymous(user string) string {
	if user == "" {
		return "anonymous"
	}
	return user
}

// firewall returns the firewall, or ErrUnavailable when it is off.
func (s *Service) firewall() (*firewall.Firewall, error) {
	if s.opts.Firewall == nil {
		return nil, fmt.Errorf("the firewall is off: %w", ErrUnavailable)
	}
	return s.opts.Firewall, nil
}

// record appends an audit entry for an account change. It logs nothing:
// auth already logs each change with its actor and user.
func (s *Service) record(ctx context.Context, p auth.Principal, action, details string) error {
	if s.opts.Records == nil {
		return nil
	}
	err := s.opts.Records.AppendAudit(ctx, store.AuditEntry{
		At: s.opts.Now().UTC(), Actor: p.User, Action: action, Details: details,
	})
	if err != nil {
		return fmt.Errorf("record %s in the audit log: %w", action, err)
	}
	return nil
}

// Audit actions of account and policy changes.
const (
	ActionUserAdded       = "user-added"
	ActionUserDeleted     = "user-deleted"
	ActionRoleChanged     = "role-changed"
	ActionPasswordChanged = "password-changed"
	ActionTokenCreated    = "token-created"
	ActionTokenRevoked    = "token-revoked"
)

// invalidError is bad input: its text is the plain message, and it still
// matches ErrInvalid, so callers can show it as is.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{err: fmt.Errorf(format, args...)}
}
