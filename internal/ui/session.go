package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"breakwater/internal/auth"
	"breakwater/internal/telemetry"
)

// loginCSRFCookie holds the login form's token: before a session exists
// the form's hidden field must match this cookie (double submit).
const loginCSRFCookie = "breakwater_login_csrf"

// visitor is who asks, from their session cookie.
type visitor struct {
	P      auth.Principal
	CSRF   string
	Cookie string
	// MustChange is set until the first password of an account is changed.
	MustChange bool
}

type visitorKey struct{}

func visitorOf(ctx context.Context) visitor {
	v, _ := ctx.Value(visitorKey{}).(visitor)
	return v
}

// handler is a page that needs a signed-in visitor.
type handler func(w http.ResponseWriter, r *http.Request, v visitor)

// signedIn resolves the session cookie. Without a valid session a GET is
// redirected to the login page (coming back here afterwards) and any
// other method is refused. A POST must carry the session's CSRF token. A
// visitor who must change their password is sent to /ui/password first.
func (u *UI) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		v, ok := u.session(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.fail(w, r, v, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := parseForm(r); err != nil {
				u.formError(w, r, v, err)
				return
			}
			if !u.csrfOK(r, v.CSRF) {
				u.fail(w, r, v, http.StatusForbidden, "The form's security token is missing or stale. Reload the page and try again.")
				return
			}
		}
		if v.MustChange && r.URL.Path != Prefix+"/password" && r.URL.Path != Prefix+"/logout" {
			http.Redirect(w, r, Prefix+"/password", http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), visitorKey{}, v)), v)
	}
}

// session returns the visitor of r's session cookie, if it is valid.
func (u *UI) session(r *http.Request) (visitor, bool) {
	c, err := r.Cookie(auth.SessionCookie)
	if err != nil || c.Value == "" {
		return visitor{}, false
	}
	p, s, err := u.opts.Auth.Session(r.Context(), c.Value)
	if err != nil {
		if !errors.Is(err, auth.ErrBadCredentials) {
			u.log.Debug("session not accepted", telemetry.KeyError, err)
		}
		return visitor{}, false
	}
	return visitor{P: p, CSRF: s.CSRF, Cookie: c.Value, MustChange: s.MustChangePassword}, true
}

// csrfOK reports whether the form's csrf field equals want. The body is
// parsed here, bounded, so handlers read r.PostForm afterwards.
func (u *UI) csrfOK(r *http.Request, want string) bool {
	if err := parseForm(r); err != nil {
		return false
	}
	got := r.PostForm.Get("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// formError answers a form that could not be read: too large, or not a
// form at all.
func (u *UI) formError(w http.ResponseWriter, r *http.Request, v visitor, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		u.fail(w, r, v, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d KiB.", maxForm>>10))
		return
	}
	u.fail(w, r, v, http.StatusBadRequest, "The form could not be read.")
}

// maxForm bounds a form body; the largest is a policy document.
const maxForm = 1 << 20

func parseForm(r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	return r.ParseForm()
}

// setSession sets the session cookie: HttpOnly, SameSite=Strict, the
// whole site's path (the registry token service shares it), Secure over
// TLS.
func (u *UI) setSession(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: auth.SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r),
	})
}

// loginToken returns the login form's CSRF token, setting its cookie if
// the browser has none yet.
func (u *UI) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: loginCSRFCookie, Value: tok, Path: Prefix + "/login",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r),
	})
	return tok
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics rather)
	return base64.RawURLEncoding.EncodeToString(b)
}

// localNext returns next if it is a path of the dashboard, else the
// overview: the login page must never send a browser to another site.
func localNext(next string) string {
	const home = Prefix + "/"
	if next == "" || strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "//") {
		return home
	}
	p, err := url.Parse(next)
	if err != nil || p.Scheme != "" || p.Host != "" || p.User != nil || p.Opaque != "" {
		return home
	}
	if p.Path != Prefix && !strings.HasPrefix(p.Path, Prefix+"/") {
		return home
	}
	if strings.Contains(p.Path, "/../") || strings.HasSuffix(p.Path, "/..") || p.Path == Prefix+"/login" {
		return home
	}
	return p.RequestURI()
}
