// Package api is breakwater's admin JSON API under /api/v1: quarantine
// records, the audit log, exposure to a vulnerability, policies,
// repositories, upstreams, vulnerability data, statistics, users and API
// tokens. It is a thin HTTP layer over internal/admin, the facade the
// dashboard uses too, and is described by the OpenAPI 3.1 document it
// serves at /api/v1/openapi.json (openapi.json here, embedded).
//
// Every request but the OpenAPI document needs a principal, which
// auth.Service.Request finds in a session cookie, a Bearer API token or
// Basic credentials (a password or an API token). Reads need any user;
// changes need an admin, except a user's own password and tokens. A
// request authenticated by the session cookie must carry the session's
// CSRF token in X-CSRF-Token on every method but GET and HEAD, since a
// browser sends the cookie with any site's form.
//
// Answers are JSON with Cache-Control: no-store; errors are
// {"error":{"code":"NOT_FOUND","message":"..."}} with 400, 401, 403, 404,
// 405, 409, 413, 415 or 429, and 500 only for a failure of breakwater
// itself. Bodies are JSON (Content-Type application/json), limited to 1 MiB
// and may carry no unknown field; a query parameter a route does not take
// is refused too.
//
// Files: api.go holds the routes and the middleware, handlers.go one
// handler per route, wire.go the JSON shapes and decoding, errors.go the
// mapping of errors to statuses, openapi.go the document.
package api

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// Prefix is where the API is mounted; routes carry it in full.
const Prefix = "/api/v1"

// CSRFHeader carries a session's CSRF token on changes.
const CSRFHeader = "X-CSRF-Token"

// maxBody bounds a request body.
const maxBody = 1 << 20

// Options configure the API handler. Admin and Auth are required.
type Options struct {
	Admin  *admin.Service
	Auth   *auth.Service
	Logger *slog.Logger
}

// access is who may call a route.
type access int

const (
	anyone    access = iota // no credentials needed
	reader                  // any authenticated user
	adminOnly               // admins
	selfOnly                // admins, or the user the {name} path value names
)

// route is one operation; the OpenAPI document lists exactly these.
// params are the query parameters it takes: any other is refused, so a
// misspelt filter is an error rather than a silently unfiltered answer.
type route struct {
	method, path string
	access       access
	params       []string
	handle       func(*handler, *http.Request, auth.Principal) (int, any, error)
}

// Query parameters of the routes that take some.
var (
	quarantineParams = []string{"repository", "policy", "severity", "since", "until", "sort", "offset", "limit"}
	auditParams      = []string{"since", "until", "user", "client", "repository", "digest", "action", "before", "limit"}
	statsParams      = []string{"since"}
)

// routes is the API. A test holds the OpenAPI document to it.
var routes = []route{
	{"GET", "/api/v1/openapi.json", anyone, nil, (*handler).openAPI},
	{"GET", "/api/v1/me", reader, nil, (*handler).me},
	{"GET", "/api/v1/quarantine", reader, quarantineParams, (*handler).quarantines},
	{"GET", "/api/v1/quarantine/{id}", reader, nil, (*handler).quarantine},
	{"DELETE", "/api/v1/quarantine/{id}", adminOnly, nil, (*handler).deleteQuarantine},
	{"POST", "/api/v1/quarantine/{id}/delete", adminOnly, nil, (*handler).deleteQuarantine},
	{"POST", "/api/v1/quarantine/{id}/release", adminOnly, nil, (*handler).release},
	{"POST", "/api/v1/quarantine/{id}/notes", adminOnly, nil, (*handler).addNote},
	{"GET", "/api/v1/audit", reader, auditParams, (*handler).audit},
	{"GET", "/api/v1/violations", reader, nil, (*handler).violations},
	{"GET", "/api/v1/vulnerabilities/{id}/images", reader, nil, (*handler).exposure},
	{"GET", "/api/v1/policies", reader, nil, (*handler).policies},
	{"PUT", "/api/v1/policies", adminOnly, nil, (*handler).setPolicies},
	{"DELETE", "/api/v1/policies", adminOnly, nil, (*handler).resetPolicies},
	{"GET", "/api/v1/repositories", reader, nil, (*handler).repositories},
	{"GET", "/api/v1/upstreams", reader, nil, (*handler).upstreams},
	{"GET", "/api/v1/vulndb", reader, nil, (*handler).vulnDB},
	{"GET", "/api/v1/stats", reader, statsParams, (*handler).stats},
	{"GET", "/api/v1/users", adminOnly, nil, (*handler).users},
	{"POST", "/api/v1/users", adminOnly, nil, (*handler).addUser},
	{"DELETE", "/api/v1/users/{name}", adminOnly, nil, (*handler).deleteUser},
	{"PUT", "/api/v1/users/{name}/role", adminOnly, nil, (*handler).setRole},
	{"PUT", "/api/v1/users/{name}/password", selfOnly, nil, (*handler).setPassword},
	{"GET", "/api/v1/users/{name}/tokens", selfOnly, nil, (*handler).tokens},
	{"POST", "/api/v1/users/{name}/tokens", selfOnly, nil, (*handler).createToken},
	{"DELETE", "/api/v1/users/{name}/tokens/{token}", selfOnly, nil, (*handler).revokeToken},
}

type handler struct {
	admin *admin.Service
	auth  *auth.Service
	log   *slog.Logger
}

// New returns the API's handler, for requests whose path starts with
// Prefix.
func New(opts Options) http.Handler {
	h := &handler{admin: opts.Admin, auth: opts.Auth, log: telemetry.OrDiscard(opts.Logger)}
	mux := http.NewServeMux()
	methods := map[string][]string{}
	for _, rt := range routes {
		mux.Handle(rt.method+" "+rt.path, h.serve(rt))
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// Without these, ServeMux would answer in plain text.
	for path, ms := range methods {
		mux.Handle(path, h.methodNotAllowed(ms))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such API route: "+r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers a known path asked with another method.
func (h *handler) methodNotAllowed(methods []string) http.Handler {
	allow := ""
	for i, m := range methods {
		if i > 0 {
			allow += ", "
		}
		allow += m
	}
	if contains(methods, "GET") {
		allow += ", HEAD"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed here; use "+allow)
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// serve authenticates, authorizes and checks CSRF for one route, then
// runs it and writes its answer.
func (h *handler) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		var p auth.Principal
		if rt.access != anyone {
			var err error
			if p, err = h.auth.Request(r); err != nil {
				h.fail(w, r, err)
				return
			}
			if err := h.authorize(rt.access, r, p); err != nil {
				h.fail(w, r, err)
				return
			}
			if err := h.checkCSRF(r, p); err != nil {
				h.fail(w, r, err)
				return
			}
			if err := checkParams(r, rt.params); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		status, body, err := rt.handle(h, r.WithContext(auth.WithPrincipal(r.Context(), p)), p)
		if err != nil {
			h.fail(w, r, afterAuth(err))
			return
		}
		writeJSON(w, status, body)
	})
}

// authorize applies a route's access rule before its body is read, so a
// reader learns nothing from a change's validation.
func (h *handler) authorize(a access, r *http.Request, p auth.Principal) error {
	switch {
	case a == adminOnly && !p.IsAdmin():
		return errorf(http.StatusForbidden, "FORBIDDEN", "this needs an admin")
	case a == selfOnly && !p.IsAdmin() && p.User != r.PathValue("name"):
		return errorf(http.StatusForbidden, "FORBIDDEN", "only an admin may act for another user")
	}
	return nil
}

// checkCSRF requires a session's CSRF token on every change made with
// its cookie; tokens and passwords are not sent by browsers on their own.
func (h *handler) checkCSRF(r *http.Request, p auth.Principal) error {
	if p.Via != auth.ViaSession || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil {
		return errorf(http.StatusForbidden, "CSRF", "missing session cookie")
	}
	_, sess, err := h.auth.Session(r.Context(), c.Value)
	if err != nil {
		return err
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
		return errorf(http.StatusForbidden, "CSRF", "a change made with a session cookie needs the session's CSRF token in "+CSRFHeader)
	}
	return nil
}

// afterAuth keeps a handler's error from being taken for the caller's bad
// credentials: auth says a user that is gone is both ErrBadCredentials
// and store.ErrNotFound, which for a user named in the path is a 404.
func afterAuth(err error) error {
	if errors.Is(err, auth.ErrBadCredentials) && errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "NOT_FOUND", "%s", strings.TrimPrefix(err.Error(), auth.ErrBadCredentials.Error()+": "))
	}
	return err
}
