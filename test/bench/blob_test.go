package bench

import (
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/internal/config"
	"breakwater/internal/policy"
	"breakwater/internal/server"
)

// BenchmarkWarmBlob GETs a cached blob over a real TCP connection, so the
// store-to-socket path is the one a client gets. B/op and allocs/op should be
// the same for every size: anything that grows with the blob is a buffer
// that should not be there.
func BenchmarkWarmBlob(b *testing.B) {
	for _, size := range []int64{1 << 20, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			url := warmBlob(b, size)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				get(b, url, size)
			}
		})
	}
}

// BenchmarkColdBlob GETs a blob that breakwater has not cached: every
// iteration starts a breakwater on an empty data directory (outside the
// timer), so each GET streams from the upstream while filling the cache.
func BenchmarkColdBlob(b *testing.B) {
	for _, size := range []int64{1 << 20, 16 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			up := startUpstream(b)
			digest := pushImage(b, strings.TrimPrefix(up, "http://")+"/bench/blob:latest", size)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				bw := httptest.NewServer(newBreakwater(b, up))
				get(b, bw.URL+"/v2/bench/blob/manifests/latest", -1)
				b.StartTimer()

				get(b, bw.URL+"/v2/bench/blob/blobs/"+digest, size)

				b.StopTimer()
				bw.Close()
				b.StartTimer()
			}
		})
	}
}

// startUpstream starts an in-memory registry and returns its URL.
func startUpstream(b *testing.B) string {
	b.Helper()
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	b.Cleanup(up.Close)
	return up.URL
}

// warmBlob starts an upstream holding a one-layer image whose layer is size
// random bytes, and breakwater in front of it; it pulls the image once so
// the blob is cached, and returns the blob's URL on breakwater.
func warmBlob(b *testing.B, size int64) string {
	b.Helper()
	up := startUpstream(b)
	digest := pushImage(b, strings.TrimPrefix(up, "http://")+"/bench/blob:latest", size)

	bw := httptest.NewServer(newBreakwater(b, up))
	b.Cleanup(bw.Close)
	get(b, bw.URL+"/v2/bench/blob/manifests/latest", -1)
	blob := bw.URL + "/v2/bench/blob/blobs/" + digest
	get(b, blob, size) // cold: fills the cache
	return blob
}

// pushImage pushes an image with one uncompressed layer of size random bytes
// to ref and returns the layer's digest.
func pushImage(b *testing.B, ref string, size int64) string {
	b.Helper()
	data := make([]byte, size)
	rand.Read(data)
	layer := static.NewLayer(data, types.OCIUncompressedLayer)
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		b.Fatalf("append layer: %v", err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		b.Fatalf("parse %s: %v", ref, err)
	}
	if err := remote.Write(r, img); err != nil {
		b.Fatalf("push %s: %v", ref, err)
	}
	d, err := layer.Digest()
	if err != nil {
		b.Fatalf("layer digest: %v", err)
	}
	return d.String()
}

// newBreakwater wires breakwater as the serve command does, with its data in
// a temporary directory and upstreamURL as the only upstream.
func newBreakwater(b *testing.B, upstreamURL string) http.Handler {
	b.Helper()
	c := config.Default()
	c.Data = b.TempDir()
	c.Upstreams = []config.Upstream{{Name: "upstream", URL: upstreamURL, Default: true}}
	// These benchmarks measure the cache; the firewall would withhold the
	// synthetic images until vulnerability data is loaded.
	c.Firewall.Firewall = c.Firewall.WithMode(policy.ModeOff)
	srv, err := server.Build(c, nil)
	if err != nil {
		b.Fatalf("build breakwater: %v", err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

// get fetches url, failing unless it answers 200 with size bytes (any size
// when size is negative).
func get(b *testing.B, url string, size int64) {
	b.Helper()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		b.Fatalf("read %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || (size >= 0 && n != size) {
		b.Fatalf("GET %s: got status %d and %d bytes, want 200 and %d", url, resp.StatusCode, n, size)
	}
}
