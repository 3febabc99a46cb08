// Package server builds a running breakwater from a configuration: the
// upstream clients and routing, the stores under the data directory, the
// cache, the vulnerability database and the registry handler with
// /healthz and /readyz beside it. Commands and benchmarks share it so
// there is one wiring to keep true.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"breakwater/internal/cache"
	"breakwater/internal/config"
	"breakwater/internal/policy"
	"breakwater/internal/registry"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/telemetry"
	"breakwater/internal/upstream"
	"breakwater/internal/vulndb"
)

// Server is a built breakwater: the handler and what must be closed after
// the HTTP server stops.
type Server struct {
	config  config.Config
	log     *slog.Logger
	handler http.Handler
	cache   *cache.Cache
	meta    *sqlite.Meta
	vulndb  *vulndb.DB

	// stop ends the background work Start began; done is closed when it
	// has. Both are nil until Start.
	stop context.CancelFunc
	done chan struct{}
}

// Build opens the stores under c.Data and wires upstreams, cache and
// registry handler. The data directory looks like this:
//
//	<data>/
//	  blobs/sha256/..   content-addressed blobs (see package fs)
//	  tmp/              spool for blobs being fetched
//	  meta.db           SQLite metadata: tags and their history, manifests
//	  vulndb.db         SQLite vulnerability records (see package vulndb)
//
// Nothing here contacts an upstream or a feed; Start does. A nil log
// discards.
func Build(c config.Config, log *slog.Logger) (_ *Server, err error) {
	log = telemetry.OrDiscard(log)
	// 1. Upstream clients and routing first: they only read the config
	//    (and password files), so a mistake there opens no store.
	clients, routes, err := buildUpstreams(c, log)
	if err != nil {
		return nil, err
	}
	def := c.DefaultUpstream()
	router, err := registry.NewRouter(def.Name, routes...)
	if err != nil {
		return nil, fmt.Errorf("route upstreams: %w", err)
	}

	// 2. The stores under the data directory.
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	blobs, err := fs.New(c.Data, fs.Options{})
	if err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	meta, err := sqlite.Open(filepath.Join(c.Data, "meta.db"))
	if err != nil {
		return nil, fmt.Errorf("open metadata store: %w", err)
	}
	defer closeOnError(&err, meta)
	vdb, err := OpenVulnDB(c.Data, log)
	if err != nil {
		return nil, err
	}
	defer closeOnError(&err, vdb)

	// 3. The cache over both, and the handler over the cache.
	upstreams := make(map[string]cache.Upstream, len(clients))
	for name, cl := range clients {
		upstreams[name] = cl
	}
	ca := cache.New(cache.Options{
		Upstreams:   upstreams,
		Blobs:       blobs,
		Meta:        meta,
		TagMaxAge:   c.Cache.TagMaxAge,
		NegativeTTL: c.Cache.NegativeTTL,
		Logger:      log,
	})
	opts := registry.Options{Logger: log}
	if def.SearchURL != "" {
		opts.Search, opts.SearchURL = clients[def.Name], def.SearchURL
	}
	s := &Server{
		config: c,
		log:    log,
		cache:  ca,
		meta:   meta,
		vulndb: vdb,
	}
	s.handler = withHealth(registry.New(ca, router, opts), s.ready)
	return s, nil
}

// closeOnError closes c when *err is set, for the stores a failed Build
// opened before the step that failed.
func closeOnError(err *error, c io.Closer) {
	if *err != nil {
		c.Close()
	}
}

// Start begins the background work: keeping the vulnerability data fresh.
// It logs at Warn why breakwater is not ready, if it is not. Call it once;
// Close stops what it started.
func (a *Server) Start(ctx context.Context) {
	ctx, a.stop = context.WithCancel(context.WithoutCancel(ctx))
	a.done = make(chan struct{})
	if ok, reason := a.ready(ctx); !ok {
		a.log.Warn("firewall not ready", telemetry.KeyReason, reason)
	}
	go func() {
		defer close(a.done)
		if firewallOn(a.config.Firewall) {
			refresh(ctx, a.vulndb, a.config.VulnDB, a.log)
		}
	}()
}

// ready is the /readyz check: the firewall can judge images once some
// vulnerability data is loaded; with the firewall off everywhere there is
// nothing to wait for.
func (a *Server) ready(ctx context.Context) (bool, string) {
	if !firewallOn(a.config.Firewall) {
		return true, ""
	}
	ok, err := a.vulndb.Ready(ctx)
	switch {
	case err != nil:
		return false, fmt.Sprintf("vulnerability database unreadable: %v", err)
	case !ok:
		return false, "no vulnerability data loaded yet: wait for the feeds or run breakwater vulndb import"
	}
	return true, ""
}

// firewallOn reports whether any repository runs the firewall.
func firewallOn(f config.Firewall) bool {
	if f.Mode != policy.ModeOff {
		return true
	}
	for _, r := range f.Repositories {
		if r.Mode != "" && r.Mode != policy.ModeOff {
			return true
		}
	}
	return false
}

// buildUpstreams makes one client per configured upstream and the routing
// entry for each.
func buildUpstreams(c config.Config, log *slog.Logger) (map[string]*upstream.Client, []registry.Upstream, error) {
	clients := make(map[string]*upstream.Client, len(c.Upstreams))
	var routes []registry.Upstream
	for _, u := range c.Upstreams {
		user, pass, err := u.Credentials()
		if err != nil {
			return nil, nil, err
		}
		// The config's 0 means no retries; the client's 0 means its default.
		retries := u.Retries
		if retries == 0 {
			retries = -1
		}
		cl, err := upstream.New(upstream.Options{
			Name:     u.Name,
			URL:      u.URL,
			Username: user,
			Password: pass,
			Timeout:  u.Timeout,
			Retries:  retries,
			Logger:   log, // the client adds the upstream's name itself
		})
		if err != nil {
			return nil, nil, fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		clients[u.Name] = cl
		routes = append(routes, registry.Upstream{Name: u.Name, Aliases: u.Aliases, DockerHub: u.DockerHub})
	}
	return clients, routes, nil
}

// Handler returns the HTTP handler serving the registry API.
func (a *Server) Handler() http.Handler { return a.handler }

// Close stops the background work and fills in flight, then closes the
// stores. Call it after the HTTP server stopped.
func (a *Server) Close() error {
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	return errors.Join(a.cache.Close(), a.vulndb.Close(), a.meta.Close())
}
