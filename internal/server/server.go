// Package server builds a running breakwater from a configuration: the
// upstream clients and routing, the stores under the data directory, the
// cache and the registry handler. Commands and benchmarks share it so there
// is one wiring to keep true.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"breakwater/internal/cache"
	"breakwater/internal/config"
	"breakwater/internal/registry"
	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/telemetry"
	"breakwater/internal/upstream"
)

// Server is a built breakwater: the handler and what must be closed after
// the HTTP server stops.
type Server struct {
	handler http.Handler
	cache   *cache.Cache
	meta    store.Meta
}

// Build opens the stores under c.Data and wires upstreams, cache and
// registry handler. The data directory looks like this:
//
//	<data>/
//	  blobs/sha256/..   content-addressed blobs (see package fs)
//	  tmp/              spool for blobs being fetched
//	  meta.db           SQLite metadata: tags and their history, manifests
//
// Nothing here contacts an upstream. A nil log discards.
func Build(c config.Config, log *slog.Logger) (*Server, error) {
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
	return &Server{
		handler: registry.New(ca, router, opts),
		cache:   ca,
		meta:    meta,
	}, nil
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

// Close stops fills in flight and closes the metadata store. Call it after
// the HTTP server stopped.
func (a *Server) Close() error {
	return errors.Join(a.cache.Close(), a.meta.Close())
}
