// Package ui is breakwater's web dashboard under /ui: server-rendered
// html/template pages over the admin facade (internal/admin) and the
// sessions of internal/auth. Every page works without JavaScript; the one
// embedded script only sorts tables in place. Nothing is loaded from
// another host, and the Content-Security-Policy forbids inline script and
// style, so charts are SVG drawn with attributes and the CSS is a file.
//
// Every form carries the session's CSRF token and every POST checks it;
// the login form, which has no session yet, uses a double-submit cookie.
// Readers see every page read-only; the forms that change something are
// shown to admins only, and the facade refuses a reader's POST anyway.
package ui

import (
	"embed"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/telemetry"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the dashboard is mounted at.
const Prefix = "/ui"

// Options configures the dashboard.
type Options struct {
	Admin *admin.Service
	Auth  *auth.Service
	// PublicURL is auth.public_url; an https URL makes cookies Secure even
	// when TLS ends in front of breakwater.
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
}

// UI is the dashboard's handler.
type UI struct {
	opts  Options
	log   *slog.Logger
	pages pages
	mux   *http.ServeMux
}

// New builds the dashboard. It panics only if the embedded templates do
// not parse, which the package's tests catch.
func New(opts Options) *UI {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u := &UI{opts: opts, log: telemetry.OrDiscard(opts.Logger), pages: mustParsePages()}
	u.mux = u.routes()
	return u
}

// ServeHTTP answers every path under /ui with the security headers set.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	u.mux.ServeHTTP(w, r)
}

// securityHeaders are set on every answer of the dashboard, static files
// and errors included.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// CSP allows nothing from another host and nothing inline.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// RedirectRoot sends a browser asking for "/" to the dashboard and passes
// every other request to next unchanged, so the registry still answers
// its own paths.
func RedirectRoot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			http.Redirect(w, r, Prefix+"/", http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secure reports whether cookies must be Secure for r.
func (u *UI) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(u.opts.PublicURL), "https://")
}
