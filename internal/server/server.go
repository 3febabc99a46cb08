// Package server builds a running breakwater from a configuration: the
// upstream clients and routing, the stores under the data directory, the
// cache, the vulnerability database, the firewall as the registry's gate,
// and the registry handler with /healthz and /readyz beside it. Commands
// and benchmarks share it so there is one wiring to keep true; Start runs
// the background work (feed refreshes, re-evaluation) that only serve
// wants.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/cache"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/registry"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/telemetry"
	"breakwater/internal/ui"
	"breakwater/internal/upstream"
	"breakwater/internal/vulndb"
)

// Server is a built breakwater: the handler and what must be closed after
// the HTTP server stops.
type Server struct {
	config  config.Config
	log     *slog.Logger
	handler http.Handler
	router  *registry.Router
	cache   *cache.Cache
	blobs   *fs.Blobs
	meta    *sqlite.Meta
	vulndb  *vulndb.DB
	// firewall is nil when every repository's mode is off.
	firewall *firewall.Firewall
	auth     *auth.Service
	admin    *admin.Service
	// pulls writes the pull log; nil until Build made it.
	pulls *firewall.PullLog
	// metrics are served at /metrics; statsDone is closed when the
	// statistics flusher Start began has ended.
	metrics   *telemetry.Metrics
	statsDone chan struct{}

	// stop ends the background work Start began; done is closed when it
	// has. Both are nil until Start.
	stop context.CancelFunc
	done chan struct{}
}

// Build opens the stores under c.Data and wires upstreams, cache,
// firewall and registry handler. The data directory looks like this:
//
//	<data>/
//	  blobs/sha256/..   content-addressed blobs (see package fs)
//	  tmp/              spools for blobs being fetched, one per process
//	  meta.db           SQLite metadata: tags and their history, manifests,
//	                    and the firewall's verdicts, quarantine and audit log
//	  vulndb.db         SQLite vulnerability records (see package vulndb)
//
// With every repository's firewall mode off the handler is a plain cache
// and no firewall is built, so the time the firewall was first enabled is
// not recorded before it is. Nothing here contacts an upstream or a feed;
// Start does. A nil log discards.
func Build(c config.Config, log *slog.Logger) (_ *Server, err error) {
	log = telemetry.OrDiscard(log)
	// 1. Upstream clients and routing first: they only read the config
	//    (and password files), so a mistake there opens no store.
	metrics := telemetry.NewMetrics()
	clients, routes, err := buildUpstreams(c, log, metrics)
	if err != nil {
		return nil, err
	}
	def := c.DefaultUpstream()
	router, err := registry.NewRouter(def.Name, routes...)
	if err != nil {
		return nil, fmt.Errorf("route upstreams: %w", err)
	}

	// 2. The stores under the data directory.
	s := &Server{config: c, log: log, router: router, metrics: metrics}
	defer func() {
		if err != nil {
			s.closeStores()
		}
	}()
	if err := s.openStores(c.Data); err != nil {
		return nil, err
	}

	// 3. The cache over the stores.
	upstreams := make(map[string]cache.Upstream, len(clients))
	for name, cl := range clients {
		upstreams[name] = cl
	}
	s.cache = cache.New(cache.Options{
		Upstreams:         upstreams,
		Blobs:             s.blobs,
		Meta:              s.meta,
		TagMaxAge:         c.Cache.TagMaxAge,
		NegativeTTL:       c.Cache.NegativeTTL,
		RevalidateTimeout: c.Cache.RevalidateTimeout,
		UnhealthyFor:      c.Cache.UnhealthyFor,
		MaxBlobSize:       c.Cache.MaxBlobSize,
		Logger:            log,
	})

	// 4. The firewall as the registry's gate, and the handler.
	opts := registry.Options{Logger: log, Metrics: s.metrics}
	if def.SearchURL != "" {
		opts.Search, opts.SearchURL = clients[def.Name], def.SearchURL
	}
	if c.Firewall.On() {
		if s.firewall, err = s.newFirewall(); err != nil {
			s.cache.Close()
			return nil, err
		}
		opts.Gate = s.firewall
	}
	// Every pull is logged, with the firewall on or off.
	if s.pulls, err = firewall.NewPullLog(firewall.PullLogOptions{Store: s.meta, Logger: log}); err != nil {
		s.closeFirewall()
		s.cache.Close()
		return nil, err
	}
	opts.Pulls = s.pulls
	// 5. Access control and the admin API beside the registry. The guard
	//    comes first, so a request without a principal never reaches the
	//    cache, and the pull log and quarantine records name its user.
	apiRoute, err := s.buildAdmin(clients, log)
	if err != nil {
		s.closeFirewall()
		s.cache.Close()
		return nil, err
	}
	guard := auth.GuardOptions{PublicURL: c.Auth.PublicURL, AnonymousPull: c.Auth.AnonymousPull, TokenTTL: c.Auth.TokenTTL}
	h := s.auth.RegistryGuard(principalRequester(firewall.Requesters(registry.New(s.cache, router, opts))), guard)
	tokens := route{auth.TokenPath, s.auth.TokenHandler(guard)}
	dashboard := ui.New(ui.Options{Admin: s.admin, Auth: s.auth, PublicURL: c.Auth.PublicURL, Logger: log})
	s.watchMetrics(clients)
	s.handler = s.metrics.Instrument(s.mount(ui.RedirectRoot(h), tokens, apiRoute, route{ui.Prefix, dashboard}, s.metricsRoute()), routeName)
	return s, nil
}

// openStores opens the blob store, the metadata and the vulnerability
// database under dir, creating it if missing.
func (a *Server) openStores(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// The databases are made private anyway; the rest is image content.
		a.log.Warn("the data directory is open to other users; chmod 700 it", telemetry.KeyFile, dir,
			telemetry.KeyPerm, fi.Mode().Perm().String())
	}
	var err error
	if a.blobs, err = fs.New(dir, fs.Options{}); err != nil {
		return fmt.Errorf("open blob store: %w", err)
	}
	if a.meta, err = sqlite.Open(filepath.Join(dir, "meta.db")); err != nil {
		return fmt.Errorf("open metadata store: %w", err)
	}
	a.vulndb, err = OpenVulnDB(dir, a.log)
	return err
}

// newFirewall builds the firewall over the server's stores, cache and
// vulnerability data, with the configured policies and settings.
func (a *Server) newFirewall() (*firewall.Firewall, error) {
	fw, err := firewall.New(firewall.Options{
		Meta:     a.meta,
		Store:    a.meta,
		Blobs:    a.blobs,
		Cache:    a.cache,
		VulnDB:   a.vulndb,
		Policies: a.config.Policies,
		Settings: a.config.Firewall.Firewall,
		Wait:     a.config.Firewall.Wait,
		Logger:   a.log,
		Metrics:  a.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("build firewall: %w", err)
	}
	return fw, nil
}

// closeStores closes whichever stores are open.
func (a *Server) closeStores() error {
	var errs []error
	if a.vulndb != nil {
		errs = append(errs, a.vulndb.Close())
	}
	if a.meta != nil {
		errs = append(errs, a.meta.Close())
	}
	if a.blobs != nil {
		errs = append(errs, a.blobs.Close())
	}
	return errors.Join(errs...)
}

// buildUpstreams makes one client per configured upstream and the routing
// entry for each.
func buildUpstreams(c config.Config, log *slog.Logger, metrics *telemetry.Metrics) (map[string]*upstream.Client, []registry.Upstream, error) {
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
			Metrics:  metrics,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("upstream %s: %w", u.Name, err)
		}
		clients[u.Name] = cl
		routes = append(routes, registry.Upstream{Name: u.Name, Aliases: u.Aliases, DockerHub: u.DockerHub})
	}
	return clients, routes, nil
}

// Handler returns the HTTP handler serving the registry API, /healthz and
// /readyz.
func (a *Server) Handler() http.Handler { return a.handler }

// Router returns the routing of client names to upstream repositories.
func (a *Server) Router() *registry.Router { return a.router }

// Cache returns the pull-through cache.
func (a *Server) Cache() *cache.Cache { return a.cache }

// Firewall returns the firewall, nil when every repository's mode is off.
func (a *Server) Firewall() *firewall.Firewall { return a.firewall }

// Close stops the background work, the inspections and the fills in
// flight, then closes the stores. Call it after the HTTP server stopped.
func (a *Server) Close() error {
	if a.stop != nil {
		a.stop()
		<-a.done
	}
	var errs []error
	if a.pulls != nil {
		errs = append(errs, a.pulls.Close())
	}
	errs = append(errs, a.closeFirewall())
	errs = append(errs, a.flushStats())
	errs = append(errs, a.cache.Close(), a.closeStores())
	return errors.Join(errs...)
}

// closeFirewall closes the firewall, if there is one.
func (a *Server) closeFirewall() error {
	if a.firewall == nil {
		return nil
	}
	return a.firewall.Close()
}
