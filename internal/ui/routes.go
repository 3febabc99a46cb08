package ui

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// routes lists every page. Paths are under Prefix; ServeMux's method
// patterns answer 405 for the rest.
func (u *UI) routes() *http.ServeMux {
	m := http.NewServeMux()
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err) // the embedded folder exists; the tests render from it
	}
	m.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", staticFiles(http.FileServerFS(static))))

	m.HandleFunc("GET "+Prefix+"/login", u.loginForm)
	m.HandleFunc("POST "+Prefix+"/login", u.login)
	m.HandleFunc("POST "+Prefix+"/logout", u.signedIn(u.logout))
	m.HandleFunc("GET "+Prefix+"/password", u.signedIn(u.passwordForm))
	m.HandleFunc("POST "+Prefix+"/password", u.signedIn(u.changePassword))

	m.HandleFunc("GET "+Prefix+"/{$}", u.signedIn(u.overview))
	m.HandleFunc("GET "+Prefix+"/quarantine", u.signedIn(u.quarantineList))
	m.HandleFunc("GET "+Prefix+"/quarantine/{id}", u.signedIn(u.quarantineDetail))
	m.HandleFunc("POST "+Prefix+"/quarantine/{id}/notes", u.signedIn(u.addNote))
	m.HandleFunc("POST "+Prefix+"/quarantine/{id}/release", u.signedIn(u.release))
	m.HandleFunc("POST "+Prefix+"/quarantine/{id}/delete", u.signedIn(u.delete))
	m.HandleFunc("GET "+Prefix+"/violations", u.signedIn(u.violations))
	m.HandleFunc("GET "+Prefix+"/audit", u.signedIn(u.audit))
	m.HandleFunc("GET "+Prefix+"/vulnerabilities", u.signedIn(u.vulnerabilities))
	m.HandleFunc("GET "+Prefix+"/policies", u.signedIn(u.policies))
	m.HandleFunc("POST "+Prefix+"/policies", u.signedIn(u.setPolicies))
	m.HandleFunc("GET "+Prefix+"/users", u.signedIn(u.users))
	m.HandleFunc("POST "+Prefix+"/users", u.signedIn(u.addUser))
	m.HandleFunc("POST "+Prefix+"/users/delete", u.signedIn(u.deleteUser))
	m.HandleFunc("POST "+Prefix+"/users/password", u.signedIn(u.setUserPassword))
	m.HandleFunc("GET "+Prefix+"/tokens", u.signedIn(u.tokens))
	m.HandleFunc("POST "+Prefix+"/tokens", u.signedIn(u.createToken))
	m.HandleFunc("POST "+Prefix+"/tokens/revoke", u.signedIn(u.revokeToken))

	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusFound)
	})
	m.HandleFunc(Prefix+"/", u.signedIn(func(w http.ResponseWriter, r *http.Request, v visitor) {
		u.fail(w, r, v, http.StatusNotFound, "There is no such page.")
	}))
	return m
}

// staticFiles lets browsers keep the assets for an hour: they change only
// with a new binary. It serves files only, no directory listing.
func staticFiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// failErr answers an error of the facade with its status: bad input 400,
// refused 403, missing 404; anything else is logged and shown as 500
// without detail.
func (u *UI) failErr(w http.ResponseWriter, r *http.Request, v visitor, err error) {
	status, msg := errStatus(err)
	if status == http.StatusInternalServerError {
		u.log.Error("dashboard request failed", telemetry.KeyPath, r.URL.Path, telemetry.KeyError, err)
	}
	u.fail(w, r, v, status, msg)
}

// errStatus maps an error of the facade or of auth to a status and a
// message fit to show. The sources word their errors as plain text; the
// page only makes that one sentence.
func errStatus(err error) (int, string) {
	switch {
	case errors.Is(err, admin.ErrInvalid), errors.Is(err, auth.ErrInvalid):
		return http.StatusBadRequest, sentence(err.Error())
	case errors.Is(err, auth.ErrExists):
		return http.StatusConflict, sentence(err.Error())
	case errors.Is(err, admin.ErrForbidden):
		return http.StatusForbidden, "Only admins may do this."
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, admin.ErrUnavailable):
		return http.StatusConflict, sentence(err.Error())
	}
	return http.StatusInternalServerError, "Something went wrong on the server; the log says what."
}

// sentence starts s with a capital and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}
