package registry

import (
	"fmt"
	"strings"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// Upstream is what routing knows of one configured upstream.
type Upstream struct {
	// Name is the upstream's name in the configuration, typically its
	// registry host ("docker.io", "ghcr.io"). A first path component equal
	// to it selects this upstream.
	Name string
	// Aliases are other registry hosts containerd may send as ?ns= for
	// this upstream, such as "registry-1.docker.io" or the host of the
	// upstream's URL.
	Aliases []string
	// DockerHub gives single-component names the implicit "library/"
	// ("node" is "library/node"). An upstream named "docker.io" always has it.
	DockerHub bool
}

// Router maps the repository names clients send to the cache's repositories.
// Its zero value is not usable; build one with NewRouter. It is safe for
// concurrent use.
//
// A name whose first component is a configured upstream's name goes to that
// upstream with the rest of the name ("ghcr.io/org/app" is org/app on
// ghcr.io); any other name goes whole to the default upstream, which is also
// what a docker daemon sends when breakwater is its registry mirror. So the
// canonical names the catalog lists ("docker.io/library/node") route back to
// the same repository. containerd's mirror form names the registry in ?ns=
// instead, and the name is then used as given.
type Router struct {
	def    *Upstream
	byName map[string]*Upstream
	byNS   map[string]*Upstream
}

// NewRouter returns a Router over upstreams with defaultName as the
// default. Names and aliases must be unique.
func NewRouter(defaultName string, upstreams ...Upstream) (*Router, error) {
	rt := &Router{
		byName: make(map[string]*Upstream),
		byNS:   make(map[string]*Upstream),
	}
	for _, u := range upstreams {
		if u.Name == "" || strings.Contains(u.Name, "/") {
			return nil, fmt.Errorf("upstream name %q: want a non-empty name without slashes", u.Name)
		}
		u.DockerHub = u.DockerHub || u.Name == "docker.io"
		if _, dup := rt.byName[u.Name]; dup {
			return nil, fmt.Errorf("upstream %q configured twice", u.Name)
		}
		rt.byName[u.Name] = &u

		for _, host := range append([]string{u.Name}, u.Aliases...) {
			host = strings.ToLower(host)
			if other, dup := rt.byNS[host]; dup {
				return nil, fmt.Errorf("registry host %q names both upstream %q and %q", host, other.Name, u.Name)
			}
			rt.byNS[host] = &u
		}
	}
	rt.def = rt.byName[defaultName]
	if rt.def == nil {
		return nil, fmt.Errorf("default upstream %q is not configured", defaultName)
	}
	return rt, nil
}

// Route returns the repository that serves name, a valid repository name,
// given the ns query parameter (empty when absent). An ns naming no
// configured upstream is ErrNameUnknown: answering from the default upstream
// would serve another registry's image under that name, while a 404 lets
// containerd fall back to the registry itself.
func (rt *Router) Route(name, ns string) (cache.Repo, error) {
	if ns != "" {
		u := rt.byNS[strings.ToLower(ns)]
		if u == nil {
			err := fmt.Errorf("registry %q is not a configured upstream: %w", ns, oci.ErrNameUnknown)
			return cache.Repo{}, badRequest(err)
		}
		return u.repo(name), nil
	}
	if first, rest, ok := strings.Cut(name, "/"); ok {
		if u := rt.byName[first]; u != nil {
			return u.repo(rest), nil
		}
	}
	return rt.def.repo(name), nil
}

// repo returns path on u, with Docker Hub's implicit library/.
func (u *Upstream) repo(path string) cache.Repo {
	if u.DockerHub && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return cache.Repo{Upstream: u.Name, Path: path}
}
