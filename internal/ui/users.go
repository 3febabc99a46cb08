package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"breakwater/internal/auth"
	"breakwater/internal/store"
)

type usersData struct {
	Users []auth.User
	// Name and Role keep the add form's input after an error.
	Name, Role string
}

// users lists the accounts, for admins, with forms to add one, set a
// password and delete one.
func (u *UI) users(w http.ResponseWriter, r *http.Request, v visitor) {
	u.showUsers(w, r, v, http.StatusOK, usersData{}, "")
}

func (u *UI) showUsers(w http.ResponseWriter, r *http.Request, v visitor, status int, d usersData, msg string) {
	if !v.P.IsAdmin() {
		u.fail(w, r, v, http.StatusForbidden, "Only admins may manage users. Your own tokens are under Tokens.")
		return
	}
	us, err := u.opts.Admin.Users(r.Context())
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	d.Users = us
	u.render(w, r, status, "users", view{Title: "Users", Nav: "users", V: v, Data: d, Error: msg})
}

// userChange runs an admin's change of an account and shows its error on
// the users page, or goes back there with done.
func (u *UI) userChange(w http.ResponseWriter, r *http.Request, v visitor, d usersData, done string, change func() error) {
	if !v.P.IsAdmin() {
		u.fail(w, r, v, http.StatusForbidden, "Only admins may manage users.")
		return
	}
	if err := change(); err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest || status == http.StatusConflict {
			u.showUsers(w, r, v, status, d, msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	http.Redirect(w, r, Prefix+"/users?done="+done, http.StatusSeeOther)
}

func (u *UI) addUser(w http.ResponseWriter, r *http.Request, v visitor) {
	f := r.PostForm
	d := usersData{Name: f.Get("name"), Role: f.Get("role")}
	// The form offers the two roles and knows what a conflict means, so
	// it says both in its own words.
	role := auth.Role(d.Role)
	if v.P.IsAdmin() && role != auth.RoleReader && role != auth.RoleAdmin {
		u.showUsers(w, r, v, http.StatusBadRequest, d, fmt.Sprintf("Role must be reader or admin, not %q.", d.Role))
		return
	}
	u.userChange(w, r, v, d, "user", func() error {
		err := u.opts.Admin.AddUser(r.Context(), v.P, d.Name, role, f.Get("password"))
		if errors.Is(err, auth.ErrExists) {
			return userExists(d.Name)
		}
		return err
	})
}

// userExists is the add form's conflict, worded for the page.
type userExists string

func (e userExists) Error() string {
	return fmt.Sprintf("There is already a user named %s.", string(e))
}
func (e userExists) Unwrap() error { return auth.ErrExists }

func (u *UI) deleteUser(w http.ResponseWriter, r *http.Request, v visitor) {
	if r.PostForm.Get("confirm") != "yes" && v.P.IsAdmin() {
		u.showUsers(w, r, v, http.StatusBadRequest, usersData{},
			fmt.Sprintf("Tick the box to confirm deleting %s.", r.PostForm.Get("name")))
		return
	}
	u.userChange(w, r, v, usersData{}, "userdel", func() error {
		return u.opts.Admin.DeleteUser(r.Context(), v.P, r.PostForm.Get("name"))
	})
}

func (u *UI) setUserPassword(w http.ResponseWriter, r *http.Request, v visitor) {
	u.userChange(w, r, v, usersData{}, "userpw", func() error {
		return u.opts.Admin.SetPassword(r.Context(), v.P, r.PostForm.Get("name"), r.PostForm.Get("password"))
	})
}

type tokensData struct {
	// User is whose tokens are shown; admins may pick anyone.
	User   string
	Users  []auth.User
	Tokens []auth.TokenInfo
	// Secret is a new token's secret, shown on this one answer only.
	Secret  string
	Created auth.TokenInfo
	Name    string
	TTLs    []option
}

// tokens lists a user's API tokens: the visitor's own, or for admins
// anyone's (?user=).
func (u *UI) tokens(w http.ResponseWriter, r *http.Request, v visitor) {
	u.showTokens(w, r, v, http.StatusOK, tokensData{User: r.URL.Query().Get("user")}, "")
}

func (u *UI) showTokens(w http.ResponseWriter, r *http.Request, v visitor, status int, d tokensData, msg string) {
	if d.User == "" {
		d.User = v.P.User
	}
	ts, err := u.opts.Admin.Tokens(r.Context(), v.P, d.User)
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	d.Tokens = ts
	if v.P.IsAdmin() {
		if d.Users, err = u.opts.Admin.Users(r.Context()); err != nil {
			u.failErr(w, r, v, err)
			return
		}
	}
	d.TTLs = options("720h", "24h", "1 day", "720h", "30 days", "2160h", "90 days", "8760h", "1 year", "0", "never")
	u.render(w, r, status, "tokens", view{Title: "API tokens", Nav: "tokens", V: v, Data: d, Error: msg})
}

// createToken makes a token and shows its secret once, in this answer:
// it is not stored anywhere it could be shown again.
func (u *UI) createToken(w http.ResponseWriter, r *http.Request, v visitor) {
	f := r.PostForm
	d := tokensData{User: f.Get("user"), Name: f.Get("name")}
	if d.User == "" {
		d.User = v.P.User
	}
	ttl, err := time.ParseDuration(f.Get("ttl"))
	if err != nil || ttl < 0 {
		u.showTokens(w, r, v, http.StatusBadRequest, d, "Pick how long the token lasts.")
		return
	}
	secret, info, err := u.opts.Admin.CreateToken(r.Context(), v.P, d.User, d.Name, ttl)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && v.P.IsAdmin() {
			// Deleted since the form was drawn: show the admin's own list.
			missing := d.User
			d.User = v.P.User
			u.showTokens(w, r, v, http.StatusNotFound, d, fmt.Sprintf("There is no user %s.", missing))
			return
		}
		if status, msg := errStatus(err); status == http.StatusBadRequest || status == http.StatusConflict {
			u.showTokens(w, r, v, status, d, msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	d.Secret, d.Created, d.Name = secret, info, ""
	u.showTokens(w, r, v, http.StatusOK, d, "")
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, v visitor) {
	user, name := r.PostForm.Get("user"), r.PostForm.Get("name")
	if err := u.opts.Admin.RevokeToken(r.Context(), v.P, user, name); err != nil {
		u.failErr(w, r, v, err)
		return
	}
	http.Redirect(w, r, Prefix+"/tokens?done=revoked&user="+url.QueryEscape(user), http.StatusSeeOther)
}
