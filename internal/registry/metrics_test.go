package registry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"breakwater/internal/cache"
	"breakwater/internal/registry"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/telemetry"
	"breakwater/internal/upstream"
)

// TestMetricsThroughRealStack pulls an image cold and warm through the
// real stack and checks what the metrics say about the cache, the bytes
// and the pulls.
func TestMetricsThroughRealStack(t *testing.T) {
	hub := newCountingRegistry(t)
	cl, err := upstream.New(upstream.Options{Name: "docker.io", URL: hub.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	blobs, err := fs.New(filepath.Join(dir, "blobs"), fs.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := cache.New(cache.Options{Upstreams: map[string]cache.Upstream{"docker.io": cl}, Blobs: blobs, Meta: meta, TagMaxAge: time.Hour})
	t.Cleanup(func() {
		c.Close()
		meta.Close()
	})
	router, err := registry.NewRouter("docker.io", registry.Upstream{Name: "docker.io", DockerHub: true})
	if err != nil {
		t.Fatal(err)
	}
	m := telemetry.NewMetrics()
	srv := httptest.NewServer(registry.New(c, router, registry.Options{Metrics: m}))
	t.Cleanup(srv.Close)

	img := randomImage(t, 2)
	d := push(t, hub, "library/app:v1", img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	blobsOf := append([]v1.Descriptor{mf.Config}, mf.Layers...)
	var blobBytes int64
	for _, b := range blobsOf {
		blobBytes += b.Size
	}

	// pull GETs the manifest by tag, then by digest, then every blob, and
	// returns the body bytes it read.
	pull := func() int64 {
		var n int64
		for _, path := range []string{"/v2/app/manifests/v1", "/v2/app/manifests/" + d.String()} {
			n += readOK(t, srv.URL+path, "Accept", string(mf.MediaType))
		}
		for _, b := range blobsOf {
			n += readOK(t, srv.URL+"/v2/app/blobs/"+b.Digest.String())
		}
		return n
	}
	cold, warm := pull(), pull()
	if want := 2*int64(len(raw)) + blobBytes; cold != want || warm != want {
		t.Fatalf("pulls read %d and %d bytes, want %d each", cold, warm, want)
	}
	// A name the upstream lacks: asked once, then remembered.
	for range 2 {
		get(t, srv.URL+"/v2/missing/manifests/v1")
	}

	tests := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "tag", "result": "miss"}, 1},
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "tag", "result": "hit"}, 1},
		// The manifest by digest was stored by the tag's fetch.
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "manifest", "result": "hit"}, 2},
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "blob", "result": "miss"}, float64(len(blobsOf))},
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "blob", "result": "hit"}, float64(len(blobsOf))},
		{"breakwater_cache_requests_total", map[string]string{"upstream": "docker.io", "kind": "tag", "result": "negative"}, 1},
		{"breakwater_cache_served_bytes_total", map[string]string{"upstream": "docker.io", "source": "upstream"}, float64(int64(len(raw)) + blobBytes)},
		{"breakwater_cache_served_bytes_total", map[string]string{"upstream": "docker.io", "source": "cache"}, float64(3*int64(len(raw)) + blobBytes)},
		{"breakwater_pulls_total", map[string]string{"upstream": "docker.io"}, 4},
	}
	for _, tt := range tests {
		got, err := m.Value(tt.metric, tt.labels)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.metric, tt.labels, got, tt.want)
		}
	}
}

// readOK GETs url, fails the test unless it answers 200, and returns the
// body's length.
func readOK(t *testing.T, url string, header ...string) int64 {
	t.Helper()
	resp := get(t, url, header...)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return n
}

func TestEndpointName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/v2/", "base"},
		{"/v2/_catalog", "catalog"},
		{"/v2/library/app/manifests/v1", "manifest"},
		{"/v2/library/app/blobs/sha256:" + zeros, "blob"},
		{"/v2/library/app/tags/list", "tags"},
		{"/v2/library/app/referrers/sha256:" + zeros, "referrers"},
		{"/v1/search", "search"},
		{"/v2/library/app/blobs/uploads/", "other"},
		{"/secret/path", "other"},
	}
	for _, tt := range tests {
		if got := registry.EndpointName(tt.path); got != tt.want {
			t.Errorf("EndpointName(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
