package ui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"breakwater/internal/auth"
	"breakwater/internal/telemetry"
)

type loginData struct {
	User string
	Next string
	CSRF string
}

// loginForm shows the login form; a visitor with a session goes on.
func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	next := localNext(r.URL.Query().Get("next"))
	if _, ok := u.session(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d := loginData{Next: next, CSRF: u.loginToken(w, r)}
	u.render(w, r, http.StatusOK, "login", view{Title: "Sign in", Data: d})
}

// login checks the credentials through auth, which limits failures per
// client and user, and sets the session cookie.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		u.formError(w, r, visitor{}, err)
		return
	}
	tok := u.loginToken(w, r)
	d := loginData{User: r.PostForm.Get("user"), Next: localNext(r.PostForm.Get("next")), CSRF: tok}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(tok)) != 1 {
		u.render(w, r, http.StatusForbidden, "login", view{Title: "Sign in", Data: d,
			Error: "The form's security token is missing or stale. Try again."})
		return
	}
	cookie, err := u.opts.Auth.Login(r.Context(), d.User, r.PostForm.Get("password"), auth.ClientAddr(r))
	if err != nil {
		status, msg := http.StatusUnauthorized, "Wrong user name or password."
		var rl *auth.RateLimitError
		switch {
		case errors.As(err, &rl):
			wait := rl.RetryAfter()
			w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
			status, msg = http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Wait %s and try again.", fmtDuration(wait))
		case errors.Is(err, auth.ErrRateLimited):
			w.Header().Set("Retry-After", "60")
			status, msg = http.StatusTooManyRequests, "Too many failed attempts. Wait a minute and try again."
		case !errors.Is(err, auth.ErrBadCredentials) && !errors.Is(err, auth.ErrInvalid):
			u.log.Error("login failed", telemetry.KeyError, err)
			status, msg = http.StatusInternalServerError, "Signing in failed on the server; the log says why."
		}
		u.render(w, r, status, "login", view{Title: "Sign in", Data: d, Error: msg})
		return
	}
	u.startSession(w, r, cookie)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// startSession sets the cookie for a session auth just created, lasting
// as long as the session.
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, cookie string) {
	maxAge := 0
	if _, s, err := u.opts.Auth.Session(r.Context(), cookie); err == nil && !s.ExpiresAt.IsZero() {
		maxAge = max(1, int(time.Until(s.ExpiresAt).Seconds()))
	}
	u.setSession(w, r, cookie, maxAge)
}

// logout ends the session and clears the cookie.
func (u *UI) logout(w http.ResponseWriter, r *http.Request, v visitor) {
	if err := u.opts.Auth.Logout(r.Context(), v.Cookie); err != nil {
		u.log.Warn("logout", telemetry.KeyError, err)
	}
	u.setSession(w, r, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

func (u *UI) passwordForm(w http.ResponseWriter, r *http.Request, v visitor) {
	u.render(w, r, http.StatusOK, "password", view{Title: "Change password", Nav: "password", V: v})
}

// changePassword sets the visitor's own password. Auth ends every session
// of the user on a change, so the visitor is signed in again with the new
// password and keeps working.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, v visitor) {
	pw, again := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	bad := func(msg string) {
		u.render(w, r, http.StatusBadRequest, "password", view{Title: "Change password", Nav: "password", V: v, Error: msg})
	}
	if pw != again {
		bad("The two passwords differ.")
		return
	}
	// The facade asks for the current password, so a borrowed session
	// cannot take over the account; guesses count against the login limit.
	if err := u.opts.Admin.ChangeOwnPassword(r.Context(), v.P, r.PostForm.Get("current"), pw, auth.ClientAddr(r)); err != nil {
		if errors.Is(err, auth.ErrRateLimited) {
			u.render(w, r, http.StatusTooManyRequests, "password", view{Title: "Change password", Nav: "password", V: v,
				Error: "Too many wrong passwords. Wait a minute and try again."})
			return
		}
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			bad(msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	cookie, err := u.opts.Auth.Login(r.Context(), v.P.User, pw, auth.ClientAddr(r))
	if err != nil {
		u.setSession(w, r, "", -1)
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return
	}
	u.startSession(w, r, cookie)
	http.Redirect(w, r, Prefix+"/?done=password", http.StatusSeeOther)
}
