package api

import (
	"math"
	"net/http"
	"strings"
	"time"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/policy"
	"breakwater/internal/store"
)

// Each handler returns the status and value to answer with, or an error
// that fail maps to one.

func (h *handler) me(r *http.Request, p auth.Principal) (int, any, error) {
	me := meJSON{User: p.User, Role: p.Role, Via: p.Via}
	if p.Via == auth.ViaSession {
		if c, err := r.Cookie(auth.SessionCookie); err == nil {
			if _, sess, err := h.auth.Session(r.Context(), c.Value); err == nil {
				me.CSRFToken = sess.CSRF
			}
		}
	}
	return http.StatusOK, me, nil
}

func (h *handler) quarantines(r *http.Request, _ auth.Principal) (int, any, error) {
	q := newQuery(r)
	aq := admin.QuarantineQuery{
		Repo:     q.str("repository"),
		Policy:   q.str("policy"),
		Severity: q.oneOf("severity", store.Severities...),
		Since:    q.time("since"),
		Until:    q.time("until"),
		Sort:     q.oneOf("sort", admin.SortNewest, admin.SortOldest, admin.SortScore, admin.SortRepo),
		Offset:   int(q.int("offset", math.MaxInt32)),
		Limit:    int(q.int("limit", admin.MaxLimit)),
	}
	if q.err != nil {
		return 0, nil, q.err
	}
	page, err := h.admin.Quarantines(r.Context(), aq)
	return http.StatusOK, page, err
}

func (h *handler) quarantine(r *http.Request, _ auth.Principal) (int, any, error) {
	rec, err := h.admin.Quarantine(r.Context(), r.PathValue("id"))
	return http.StatusOK, rec, err
}

func (h *handler) release(r *http.Request, p auth.Principal) (int, any, error) {
	var body reasonJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if err := h.admin.Release(r.Context(), p, r.PathValue("id"), body.Reason); err != nil {
		return 0, nil, err
	}
	return h.quarantine(r, p)
}

func (h *handler) deleteQuarantine(r *http.Request, p auth.Principal) (int, any, error) {
	var body reasonJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, h.admin.Delete(r.Context(), p, r.PathValue("id"), body.Reason)
}

func (h *handler) addNote(r *http.Request, p auth.Principal) (int, any, error) {
	var body noteJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if err := h.admin.AddNote(r.Context(), p, r.PathValue("id"), body.Text); err != nil {
		return 0, nil, err
	}
	rec, err := h.admin.Quarantine(r.Context(), r.PathValue("id"))
	return http.StatusCreated, rec, err
}

func (h *handler) audit(r *http.Request, _ auth.Principal) (int, any, error) {
	q := newQuery(r)
	aq := admin.AuditQuery{
		Since:  q.time("since"),
		Until:  q.time("until"),
		User:   q.str("user"),
		Client: q.str("client"),
		Repo:   q.str("repository"),
		Digest: q.digest("digest"),
		Action: q.str("action"),
		Before: q.int("before", math.MaxInt64),
		Limit:  int(q.int("limit", admin.MaxLimit)),
	}
	if q.err != nil {
		return 0, nil, q.err
	}
	page, err := h.admin.Audit(r.Context(), aq)
	if err != nil {
		return 0, nil, err
	}
	out := auditPageJSON{Items: make([]auditEntryJSON, len(page.Items)), Next: page.Next}
	for i, e := range page.Items {
		out.Items[i] = auditOut(e)
	}
	return http.StatusOK, out, nil
}

func (h *handler) repositories(r *http.Request, _ auth.Principal) (int, any, error) {
	repos, err := h.admin.Repositories(r.Context())
	if err != nil {
		return 0, nil, err
	}
	healthy := map[string]bool{}
	for _, u := range h.admin.Upstreams(r.Context()) {
		healthy[u.Name] = u.Healthy
	}
	out := make([]repositoryJSON, len(repos))
	for i, repo := range repos {
		out[i] = repositoryJSON{Repository: repo}
		if ok, known := healthy[repo.Upstream]; known {
			out[i].UpstreamHealthy = &ok
		}
	}
	return http.StatusOK, out, nil
}

func (h *handler) upstreams(r *http.Request, _ auth.Principal) (int, any, error) {
	return http.StatusOK, h.admin.Upstreams(r.Context()), nil
}

func (h *handler) policies(r *http.Request, _ auth.Principal) (int, any, error) {
	set, err := h.admin.Policies(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if set == nil {
		set = policy.Set{}
	}
	return http.StatusOK, policiesJSON{Policies: &set}, nil
}

// setPolicies replaces the policies in force. It validates them here too,
// to answer with every problem by its key path rather than the firewall's
// wrapped error.
func (h *handler) setPolicies(r *http.Request, p auth.Principal) (int, any, error) {
	var body policiesJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if body.Policies == nil {
		return 0, nil, errorf(http.StatusBadRequest, "INVALID", `the body needs "policies", a list; send [] for none`)
	}
	if err := body.Policies.Validate(); err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "INVALID", "the policies are invalid: %s",
			strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := h.admin.SetPolicies(r.Context(), p, *body.Policies); err != nil {
		return 0, nil, err
	}
	return h.policies(r, p)
}

func (h *handler) resetPolicies(r *http.Request, p auth.Principal) (int, any, error) {
	if err := h.admin.ResetPolicies(r.Context(), p); err != nil {
		return 0, nil, err
	}
	return h.policies(r, p)
}

func (h *handler) vulnDB(r *http.Request, _ auth.Principal) (int, any, error) {
	st, err := h.admin.VulnDB(r.Context())
	return http.StatusOK, st, err
}

func (h *handler) users(r *http.Request, _ auth.Principal) (int, any, error) {
	us, err := h.admin.Users(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userOut(u)
	}
	return http.StatusOK, out, nil
}

func (h *handler) addUser(r *http.Request, p auth.Principal) (int, any, error) {
	var body newUserJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		return 0, nil, err
	}
	if err := h.admin.AddUser(r.Context(), p, body.Name, role, body.Password); err != nil {
		return 0, nil, err
	}
	// Answer with the user as stored, so created_at is the one GET shows.
	u, err := h.auth.GetUser(r.Context(), body.Name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, userOut(u), nil
}

func (h *handler) deleteUser(r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusNoContent, nil, h.admin.DeleteUser(r.Context(), p, r.PathValue("name"))
}

func (h *handler) setRole(r *http.Request, p auth.Principal) (int, any, error) {
	var body roleJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		return 0, nil, err
	}
	name := r.PathValue("name")
	if err := h.admin.SetRole(r.Context(), p, name, role); err != nil {
		return 0, nil, err
	}
	u, err := h.auth.GetUser(r.Context(), name)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, userOut(u), nil
}

func (h *handler) setPassword(r *http.Request, p auth.Principal) (int, any, error) {
	var body passwordJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if name := r.PathValue("name"); name != p.User {
		return http.StatusNoContent, nil, h.admin.SetPassword(r.Context(), p, name, body.Password)
	}
	return http.StatusNoContent, nil, h.admin.ChangeOwnPassword(r.Context(), p, body.CurrentPassword, body.Password, auth.ClientAddr(r))
}

func (h *handler) tokens(r *http.Request, p auth.Principal) (int, any, error) {
	ts, err := h.admin.Tokens(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		out[i] = tokenOut(t)
	}
	return http.StatusOK, out, nil
}

func (h *handler) createToken(r *http.Request, p auth.Principal) (int, any, error) {
	var body newTokenJSON
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if body.TTLSeconds < 0 || body.TTLSeconds > int64(100*365*24*time.Hour/time.Second) {
		return 0, nil, errorf(http.StatusBadRequest, "INVALID", "ttl_seconds must be between 0 (no expiry) and 100 years")
	}
	secret, info, err := h.admin.CreateToken(r.Context(), p, r.PathValue("name"), body.Name, time.Duration(body.TTLSeconds)*time.Second)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, createdTokenJSON{Secret: secret, Token: tokenOut(info)}, nil
}

func (h *handler) revokeToken(r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusNoContent, nil, h.admin.RevokeToken(r.Context(), p, r.PathValue("name"), r.PathValue("token"))
}

func (h *handler) violations(r *http.Request, _ auth.Principal) (int, any, error) {
	vs, err := h.admin.Violations(r.Context())
	return http.StatusOK, vs, err
}

func (h *handler) exposure(r *http.Request, _ auth.Principal) (int, any, error) {
	es, err := h.admin.Exposure(r.Context(), r.PathValue("id"))
	return http.StatusOK, es, err
}

func (h *handler) stats(r *http.Request, _ auth.Principal) (int, any, error) {
	q := newQuery(r)
	since := q.time("since")
	if q.err != nil {
		return 0, nil, q.err
	}
	o, err := h.admin.Overview(r.Context(), since)
	return http.StatusOK, o, err
}
