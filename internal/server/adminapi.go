package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"breakwater/internal/admin"
	"breakwater/internal/api"
	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/store"
	"breakwater/internal/upstream"
)

// buildAdmin makes the access control and the administration facade the
// API and the dashboard share, and returns the API's route.
func (a *Server) buildAdmin(clients map[string]*upstream.Client, log *slog.Logger) (route, error) {
	if a.auth == nil {
		var err error
		a.auth, err = auth.New(auth.Options{
			Store:      a.meta,
			Logger:     log,
			SessionTTL: a.config.Auth.SessionTTL,
			LoginLimit: a.config.Auth.LoginLimit,
		})
		if err != nil {
			return route{}, fmt.Errorf("build access control: %w", err)
		}
	}
	opts := admin.Options{
		Auth:      a.auth,
		Meta:      a.meta,
		Records:   a.meta,
		Stats:     a.meta,
		VulnDB:    a.vulndb,
		Config:    a.config,
		Logger:    log,
		Upstreams: func() []admin.UpstreamStatus { return a.upstreamStatus(clients) },
	}
	if a.firewall != nil { // a nil pointer in the field would not be nil
		opts.Firewall = a.firewall
	}
	a.admin = admin.New(opts)
	return route{api.Prefix, api.New(api.Options{Admin: a.admin, Auth: a.auth, Logger: log})}, nil
}

// upstreamStatus joins the cache's breaker state with what each client
// knows of its upstream.
func (a *Server) upstreamStatus(clients map[string]*upstream.Client) []admin.UpstreamStatus {
	def := a.config.DefaultUpstream().Name
	hs := a.cache.Upstreams()
	out := make([]admin.UpstreamStatus, 0, len(hs))
	for _, h := range hs {
		st := admin.UpstreamStatus{Name: h.Name, Default: h.Name == def, Healthy: h.Healthy, DownUntil: h.DownUntil}
		if cl := clients[h.Name]; cl != nil {
			st.URL = cl.URL()
			st.LastError, st.LastErrorAt = cl.LastError()
			st.LastAnswerAt = cl.LastAnswer()
			if st.LastErrorAt.After(st.LastAnswerAt) {
				st.Healthy = false // failing now, though no cached tag has noticed
			}
			if rl := cl.RateLimit(); rl.Known || !rl.ResetAt.IsZero() {
				st.RateLimit = &admin.RateLimit{
					Limit: rl.Limit, Remaining: rl.Remaining, WindowSeconds: rl.Window.Seconds(), ResetAt: rl.ResetAt,
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// Auth returns the access control: users, tokens and sessions.
func (a *Server) Auth() *auth.Service { return a.auth }

// Admin returns the administration facade the API and dashboard share.
func (a *Server) Admin() *admin.Service { return a.admin }

// principalRequester names the user the registry guard authenticated as
// the firewall's requester, so the pull log and the quarantine records say
// who pulled, not only from where.
func principalRequester(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		who := firewall.Requester{User: p.User, Address: auth.ClientAddr(r)}
		next.ServeHTTP(w, r.WithContext(firewall.WithRequester(r.Context(), who)))
	})
}

// Bootstrap creates the first admin when no user is an admin yet (see
// auth.Service.Bootstrap) and records it in the audit log as the other
// account changes are, under the actor "breakwater". It returns the
// password file's path, or "" when it created no admin.
func (a *Server) Bootstrap(ctx context.Context) (string, error) {
	path, err := a.auth.Bootstrap(ctx, a.config.Data)
	if err != nil || path == "" {
		return path, err
	}
	err = a.meta.AppendAudit(ctx, store.AuditEntry{
		At: time.Now().UTC(), Actor: auth.BootstrapActor, Action: admin.ActionUserAdded,
		Details: "user=" + auth.BootstrapUser + " role=" + string(auth.RoleAdmin), // the file's path goes to the log, not to readers
	})
	if err != nil {
		return path, fmt.Errorf("record the first admin in the audit log: %w", err)
	}
	return path, nil
}
