package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/when"
)

// The JSON shapes the API answers with, where the facade's types have
// none of their own. openapi.json describes each.

type meJSON struct {
	User string    `json:"user"`
	Role auth.Role `json:"role"`
	Via  string    `json:"via"`
	// CSRFToken is for session callers only: it goes in X-CSRF-Token.
	CSRFToken string `json:"csrf_token,omitempty"`
}

type userJSON struct {
	Name               string    `json:"name"`
	Role               auth.Role `json:"role"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

func userOut(u auth.User) userJSON {
	return userJSON{Name: u.Name, Role: u.Role, MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt}
}

type tokenJSON struct {
	ID         string    `json:"id"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

func tokenOut(t auth.TokenInfo) tokenJSON {
	return tokenJSON{ID: t.ID, User: t.User, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

// createdTokenJSON is the one answer that carries a token's secret.
type createdTokenJSON struct {
	Secret string    `json:"secret"`
	Token  tokenJSON `json:"token"`
}

type auditEntryJSON struct {
	ID     int64         `json:"id"`
	At     time.Time     `json:"at"`
	Actor  string        `json:"actor"`
	Action string        `json:"action"`
	Repo   string        `json:"repository,omitempty"`
	Digest digest.Digest `json:"digest,omitempty"`
	// Client and Result say where a pull came from and how it was
	// answered.
	Client  string `json:"client,omitempty"`
	Result  string `json:"result,omitempty"`
	Details string `json:"details,omitempty"`
}

func auditOut(e store.AuditEntry) auditEntryJSON {
	return auditEntryJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Repo: e.Repo, Digest: e.Digest,
		Client: e.Client, Result: e.Result, Details: e.Details}
}

type auditPageJSON struct {
	Items []auditEntryJSON `json:"items"`
	// Next is the before= of the next page; absent on the last.
	Next int64 `json:"next,omitempty"`
}

// policiesJSON is the policies in force, as GET answers and PUT takes
// them, so an answer can be edited and sent back as it is.
type policiesJSON struct {
	// Policies is a pointer so that a body without it is refused rather
	// than taken for "no policies".
	Policies *policy.Set `json:"policies"`
}

// repositoryJSON adds what the facade knows of the repository's upstream.
type repositoryJSON struct {
	admin.Repository
	// UpstreamHealthy is absent when no configured upstream has the name,
	// such as one removed from the configuration since.
	UpstreamHealthy *bool `json:"upstream_healthy,omitempty"`
}

// Request bodies.

type reasonJSON struct {
	Reason string `json:"reason"`
}

type noteJSON struct {
	Text string `json:"text"`
}

type newUserJSON struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

type roleJSON struct {
	Role string `json:"role"`
}

type passwordJSON struct {
	Password string `json:"password"`
	// CurrentPassword proves a change of one's own password.
	CurrentPassword string `json:"current_password"`
}

type newTokenJSON struct {
	Name string `json:"name"`
	// TTLSeconds is the token's lifetime; 0 or absent: until revoked.
	TTLSeconds int64 `json:"ttl_seconds"`
}

// decode reads one JSON value into v: no unknown fields, nothing after it.
// A body labelled as anything but JSON is refused before it is read; an
// unlabelled one is taken as JSON, as simple clients send none.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errorf(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
				"the body must be JSON with Content-Type: application/json, not %q", ct)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return err
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "INVALID", "a JSON body is required")
		}
		return errorf(http.StatusBadRequest, "INVALID", "malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "INVALID", "the body holds more than one JSON value")
	}
	return nil
}

// checkParams refuses a query that does not parse, names a parameter the
// route does not take, or gives one twice.
func checkParams(r *http.Request, allowed []string) error {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorf(http.StatusBadRequest, "INVALID", "malformed query string: %v", err)
	}
	// In order, so the same query always names the same parameter.
	for _, name := range slices.Sorted(maps.Keys(v)) {
		vals := v[name]
		switch {
		case !slices.Contains(allowed, name) && len(allowed) == 0:
			return errorf(http.StatusBadRequest, "INVALID", "unknown query parameter %q: this route takes none", name)
		case !slices.Contains(allowed, name):
			return errorf(http.StatusBadRequest, "INVALID", "unknown query parameter %q: this route takes %s", name, strings.Join(allowed, ", "))
		case len(vals) > 1:
			return errorf(http.StatusBadRequest, "INVALID", "query parameter %s is given %d times; give it once", name, len(vals))
		}
	}
	return nil
}

// query reads query parameters, keeping the first error.
type query struct {
	v   url.Values
	err error
}

func newQuery(r *http.Request) *query { return &query{v: r.URL.Query()} }

func (q *query) str(name string) string { return q.v.Get(name) }

func (q *query) bad(name, format string, args ...any) {
	if q.err == nil {
		q.err = errorf(http.StatusBadRequest, "INVALID", "query parameter %s: %s", name, fmt.Sprintf(format, args...))
	}
}

// time reads a time as the CLI and dashboard take it (package when);
// absent is zero.
func (q *query) time(name string) time.Time {
	t, err := when.Since(q.v.Get(name), time.Now())
	if err != nil {
		q.bad(name, "%s", err)
	}
	return t
}

// int reads an integer from 0 to most; absent is 0.
func (q *query) int(name string, most int64) int64 {
	s := q.v.Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > most {
		q.bad(name, "%q is not an integer from 0 to %d", s, most)
		return 0
	}
	return n
}

// oneOf reads a word that must be one of choices, compared without
// regard to case; absent is "".
func (q *query) oneOf(name string, choices ...string) string {
	s := q.v.Get(name)
	if s == "" {
		return ""
	}
	for _, c := range choices {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	q.bad(name, "%q is not one of %s", s, strings.Join(choices, ", "))
	return ""
}

// digest reads an image digest; absent is "".
func (q *query) digest(name string) digest.Digest {
	s := q.v.Get(name)
	if s == "" {
		return ""
	}
	d, err := oci.ParseDigest(s)
	if err != nil {
		q.bad(name, "%q is not a digest such as sha256:<64 hex digits>", s)
	}
	return d
}
