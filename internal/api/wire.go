package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/auth"
	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// The JSON shapes the API answers with, where the facade's types have
// none of their own. openapi.json describes each.

type meJSON struct {
	User string    `json:"user"`
	Role auth.Role `json:"role"`
	Via  string    `json:"via"`
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
	ID      int64         `json:"id"`
	At      time.Time     `json:"at"`
	Actor   string        `json:"actor"`
	Action  string        `json:"action"`
	Repo    string        `json:"repository,omitempty"`
	Digest  digest.Digest `json:"digest,omitempty"`
	Details string        `json:"details,omitempty"`
}

func auditOut(e store.AuditEntry) auditEntryJSON {
	return auditEntryJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Repo: e.Repo, Digest: e.Digest, Details: e.Details}
}

type auditPageJSON struct {
	Items []auditEntryJSON `json:"items"`
	// Next is the before= of the next page; absent on the last.
	Next int64 `json:"next,omitempty"`
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

type passwordJSON struct {
	Password string `json:"password"`
}

type newTokenJSON struct {
	Name string `json:"name"`
	// TTLSeconds is the token's lifetime; 0 or absent: until revoked.
	TTLSeconds int64 `json:"ttl_seconds"`
}

// decode reads one JSON value into v: no unknown fields, nothing after it.
func decode(r *http.Request, v any) error {
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

// time reads an RFC 3339 time; absent is zero.
func (q *query) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		q.bad(name, "%q is not an RFC 3339 time such as 2024-05-01T00:00:00Z", s)
	}
	return t
}

// int reads a non-negative integer; absent is 0.
func (q *query) int(name string) int64 {
	s := q.v.Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		q.bad(name, "%q is not a non-negative integer", s)
		return 0
	}
	return n
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
