package registry

import (
	"errors"
	"testing"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

func TestRoute(t *testing.T) {
	rt := testRouter(t)
	tests := []struct {
		name, ns string
		want     cache.Repo
		wantErr  error
	}{
		{name: "node", want: nodeRepo},
		{name: "library/node", want: nodeRepo}, // docker daemon registry-mirrors
		{name: "docker.io/library/node", want: nodeRepo},
		{name: "docker.io/node", want: nodeRepo},
		{name: "bitnami/redis", want: cache.Repo{Upstream: "docker.io", Path: "bitnami/redis"}},
		{name: "ghcr.io/org/app", want: appRepo},
		{name: "ghcr.io/app", want: cache.Repo{Upstream: "ghcr.io", Path: "app"}},
		{name: "quay.io/coreos/etcd", want: cache.Repo{Upstream: "quay.io", Path: "coreos/etcd"}},
		{name: "example.com/foo/bar", want: cache.Repo{Upstream: "docker.io", Path: "example.com/foo/bar"}},
		{name: "ghcr.io", want: cache.Repo{Upstream: "docker.io", Path: "library/ghcr.io"}},
		{name: "node", ns: "docker.io", want: nodeRepo},
		{name: "library/node", ns: "docker.io", want: nodeRepo},
		{name: "node", ns: "registry-1.docker.io", want: nodeRepo},
		{name: "org/app", ns: "GHCR.IO", want: appRepo},
		{name: "ghcr.io/org/app", ns: "ghcr.io", want: cache.Repo{Upstream: "ghcr.io", Path: "ghcr.io/org/app"}},
		{name: "org/app", ns: "registry.example.com", wantErr: oci.ErrNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name+"?ns="+tt.ns, func(t *testing.T) {
			got, err := rt.Route(tt.name, tt.ns)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Route(%q, %q) error = %v, want %v", tt.name, tt.ns, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Route(%q, %q) = %v, want %v", tt.name, tt.ns, got, tt.want)
			}
		})
	}
}

// TestRouteCanonicalRoundTrip checks that a catalog entry, a canonical
// name, routes back to the repository it names.
func TestRouteCanonicalRoundTrip(t *testing.T) {
	rt := testRouter(t)
	for _, repo := range []cache.Repo{
		nodeRepo,
		appRepo,
		{Upstream: "ghcr.io", Path: "app"},
		{Upstream: "docker.io", Path: "example.com/foo/bar"},
		{Upstream: "quay.io", Path: "a/b/c"},
	} {
		got, err := rt.Route(repo.String(), "")
		if err != nil || got != repo {
			t.Errorf("Route(%q) = %v, %v; want %v", repo.String(), got, err, repo)
		}
	}
}

func TestRouteNonDockerHubDefault(t *testing.T) {
	rt, err := NewRouter("mirror", Upstream{Name: "mirror"}, Upstream{Name: "hub", DockerHub: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want cache.Repo
	}{
		{"node", cache.Repo{Upstream: "mirror", Path: "node"}},
		{"hub/node", cache.Repo{Upstream: "hub", Path: "library/node"}},
	}
	for _, tt := range tests {
		if got, err := rt.Route(tt.name, ""); err != nil || got != tt.want {
			t.Errorf("Route(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestNewRouterRefuses(t *testing.T) {
	tests := []struct {
		name string
		def  string
		ups  []Upstream
	}{
		{"missing default", "docker.io", []Upstream{{Name: "ghcr.io"}}},
		{"duplicate name", "a", []Upstream{{Name: "a"}, {Name: "a"}}},
		{"alias names another upstream", "a", []Upstream{{Name: "a"}, {Name: "b", Aliases: []string{"A"}}}},
		{"empty name", "a", []Upstream{{Name: "a"}, {Name: ""}}},
		{"slash in name", "a", []Upstream{{Name: "a"}, {Name: "b/c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRouter(tt.def, tt.ups...); err == nil {
				t.Errorf("NewRouter(%q, %v) = nil error, want one", tt.def, tt.ups)
			}
		})
	}
}
