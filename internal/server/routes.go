package server

import (
	"net/http"
	"strings"
)

// route sends requests whose path is prefix, or starts with prefix + "/",
// to handler.
type route struct {
	prefix  string
	handler http.Handler
}

// mount builds the listener's one handler: /healthz and /readyz, the
// admin surface's prefixes, and the registry for every other path. A
// prefix switch rather than http.ServeMux, because ServeMux redirects
// unclean paths, and the registry must answer a malformed name in the
// spec's error format rather than with a redirect.
func (a *Server) mount(registry http.Handler, routes ...route) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		for _, rt := range routes {
			if rt.handler != nil && (p == rt.prefix || strings.HasPrefix(p, rt.prefix+"/")) {
				rt.handler.ServeHTTP(w, r)
				return
			}
		}
		registry.ServeHTTP(w, r)
	})
	return withHealth(h, a.ready)
}
