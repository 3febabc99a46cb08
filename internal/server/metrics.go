package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"breakwater/internal/registry"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
	"breakwater/internal/upstream"
)

// MetricsPath is where the Prometheus metrics are served, without
// authentication like /healthz: they carry no secrets and no repository
// names (see docs/metrics.md).
const MetricsPath = "/metrics"

// metricsRoute serves the metrics at MetricsPath only; the mount's prefix
// match would also hand it /metrics/anything.
func (a *Server) metricsRoute() route {
	h := a.metrics.Handler()
	return route{MetricsPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != MetricsPath {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})}
}

// routeName is the route label of a request: a fixed word per part of
// the listener, and per endpoint of the registry, never the path itself.
func routeName(r *http.Request) string {
	p := r.URL.Path
	under := func(prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	switch {
	case p == "/healthz" || p == "/readyz":
		return "health"
	case p == MetricsPath:
		return "metrics"
	case under("/auth"):
		return "token"
	case under("/api"):
		return "api"
	case under("/ui"):
		return "ui"
	}
	return registry.EndpointName(r.URL.EscapedPath())
}

// watchMetrics tells the metrics where the gauges read at scrape time
// come from: the quarantine records, the age of the vulnerability data
// (with the firewall on) and the upstreams' breaker and quota.
func (a *Server) watchMetrics(clients map[string]*upstream.Client) {
	a.metrics.SetQuarantineSize(a.meta.QuarantineCount)
	if a.firewall != nil {
		a.metrics.SetVulnDBUpdated(func(ctx context.Context) (map[string]time.Time, error) {
			srcs, err := a.vulndb.Status(ctx)
			if err != nil {
				return nil, err
			}
			out := make(map[string]time.Time, len(srcs))
			for _, s := range srcs {
				out[s.Name] = s.ImportedAt
			}
			return out, nil
		})
	}
	a.metrics.SetUpstreams(func() []telemetry.UpstreamState {
		hs := a.cache.Upstreams()
		out := make([]telemetry.UpstreamState, 0, len(hs))
		for _, h := range hs {
			st := telemetry.UpstreamState{Name: h.Name, Up: h.Healthy}
			if cl := clients[h.Name]; cl != nil {
				rl := cl.RateLimit()
				st.RateLimitKnown, st.RateLimitLimit, st.RateLimitRemaining = rl.Known, rl.Limit, rl.Remaining
			}
			out = append(out, st)
		}
		return out
	})
}

// writeStats adds the statistics the metrics counted to the store.
func (a *Server) writeStats(ctx context.Context, ds []telemetry.StatsDelta) error {
	out := make([]store.StatsDelta, len(ds))
	for i, d := range ds {
		out[i] = store.StatsDelta{Hour: d.Hour, Upstream: d.Upstream, StatsCounts: store.StatsCounts(d.Counts)}
	}
	return a.meta.AddStats(ctx, out)
}

// startStats writes the statistics to the store every
// telemetry.DefaultFlushEvery until ctx ends.
func (a *Server) startStats(ctx context.Context) {
	a.statsDone = make(chan struct{})
	go func() {
		defer close(a.statsDone)
		a.metrics.RunStatsFlusher(ctx, a.writeStats, telemetry.DefaultFlushEvery, a.log)
	}()
}

// flushStats waits for the flusher Start began, if any, and writes what
// is left, so a server closed without Start loses nothing either. Call it
// after the background work was stopped and before the stores close.
func (a *Server) flushStats() error {
	if a.statsDone != nil {
		<-a.statsDone
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.metrics.FlushStats(ctx, a.writeStats)
}

// Metrics returns the server's metrics.
func (a *Server) Metrics() *telemetry.Metrics { return a.metrics }
