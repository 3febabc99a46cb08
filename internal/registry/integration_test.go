package registry_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"breakwater/internal/cache"
	"breakwater/internal/registry"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/upstream"
)

// countingRegistry is go-containerregistry's in-memory registry that counts
// the requests reaching it, so a test can tell a warm pull from a cold one.
type countingRegistry struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	// spoil, when set, answers blob GETs for the path it returns true for
	// with bad bytes, like a lying or failing upstream.
	spoil func(w http.ResponseWriter, r *http.Request, reg http.Handler) bool
}

func newCountingRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	c := &countingRegistry{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.requests = append(c.requests, r.Method+" "+r.URL.Path)
		spoil := c.spoil
		c.mu.Unlock()
		if spoil != nil && spoil(w, r, reg) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// take returns the requests counted so far and starts a new count.
func (c *countingRegistry) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.requests
	c.requests = nil
	return got
}

func (c *countingRegistry) host() string { return strings.TrimPrefix(c.URL, "http://") }

// stack is breakwater's real pull path: upstream clients, the cache on
// filesystem and SQLite stores, and the registry handler, on httptest.
type stack struct {
	hub, ghcr *countingRegistry
	srv       *httptest.Server
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{hub: newCountingRegistry(t), ghcr: newCountingRegistry(t)}

	ups := map[string]cache.Upstream{}
	for upName, reg := range map[string]*countingRegistry{"docker.io": s.hub, "ghcr.io": s.ghcr} {
		cl, err := upstream.New(upstream.Options{Name: upName, URL: reg.URL, Retries: -1})
		if err != nil {
			t.Fatalf("upstream.New: %v", err)
		}
		ups[upName] = cl
	}
	dir := t.TempDir()
	blobs, err := fs.New(filepath.Join(dir, "blobs"), fs.Options{NoSync: true})
	if err != nil {
		t.Fatalf("fs.New: %v", err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	c := cache.New(cache.Options{Upstreams: ups, Blobs: blobs, Meta: meta, TagMaxAge: time.Hour})
	t.Cleanup(func() {
		c.Close()
		meta.Close()
	})

	router, err := registry.NewRouter("docker.io",
		registry.Upstream{Name: "docker.io", Aliases: []string{s.hub.host()}},
		registry.Upstream{Name: "ghcr.io", Aliases: []string{s.ghcr.host()}},
	)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	s.srv = httptest.NewServer(registry.New(c, router, registry.Options{}))
	t.Cleanup(s.srv.Close)
	return s
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return r
}

// push writes img to an upstream and returns its digest.
func push(t *testing.T, reg *countingRegistry, repoTag string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(ref(t, reg.host()+"/"+repoTag), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push %s: %v", repoTag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	reg.take()
	return d
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(256<<10, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pullImage pulls an image through breakwater as a client does: manifest,
// config and every layer, read whole so ggcr checks each digest. It
// returns the digests it read.
func pullImage(t *testing.T, r name.Reference, opts ...remote.Option) []string {
	t.Helper()
	opts = append(opts, remote.WithContext(t.Context()))
	img, err := remote.Image(r, opts...)
	if err != nil {
		t.Fatalf("pull %s: %v", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatalf("config of %s: %v", r, err)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("read config of %s: %v", r, err)
	}
	got := []string{d.String(), cfg.String()}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		// Like crane blob: fetch the layer by digest and read it whole; the
		// reader fails on a digest mismatch.
		layer, err := remote.Layer(r.Context().Digest(ld.String()), opts...)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatalf("open layer %s: %v", ld, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read layer %s: %v", ld, err)
		}
		got = append(got, ld.String())
	}
	return got
}

// digestsOf lists an upstream image's digests in pullImage's order.
func digestsOf(t *testing.T, img v1.Image) []string {
	t.Helper()
	d, _ := img.Digest()
	cfg, _ := img.ConfigName()
	got := []string{d.String(), cfg.String()}
	layers, _ := img.Layers()
	for _, l := range layers {
		ld, _ := l.Digest()
		got = append(got, ld.String())
	}
	return got
}

// TestPullThroughRealStack pulls images through breakwater in front of
// in-memory upstreams: every digest must equal the upstream's, and a second
// pull must not reach the upstream at all.
func TestPullThroughRealStack(t *testing.T) {
	s := newStack(t)
	bw := strings.TrimPrefix(s.srv.URL, "http://")

	app := randomImage(t, 3)
	push(t, s.hub, "library/app:v1", app)
	tool := randomImage(t, 2)
	push(t, s.ghcr, "org/tool:1", tool)

	tests := []struct {
		name     string
		ref      string
		img      v1.Image
		upstream *countingRegistry
	}{
		{"docker hub short name", bw + "/app:v1", app, s.hub},
		{"docker hub library name", bw + "/library/app:v1", app, s.hub},
		{"docker hub canonical name", bw + "/docker.io/library/app:v1", app, s.hub},
		{"named upstream", bw + "/ghcr.io/org/tool:1", tool, s.ghcr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := digestsOf(t, tt.img)
			for _, pull := range []string{"first", "warm"} {
				got := pullImage(t, ref(t, tt.ref))
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("%s pull digests (-got +want):\n%s", pull, diff)
				}
				reqs := append(s.hub.take(), s.ghcr.take()...)
				if pull == "warm" && len(reqs) != 0 {
					t.Errorf("warm pull made %d upstream requests, want 0: %v", len(reqs), reqs)
				}
			}
		})
	}

	// The catalog lists canonical names, and each routes back to the same
	// repository without asking the upstream.
	repos, err := remote.Catalog(t.Context(), ref(t, bw+"/x").Context().Registry)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	wantRepos := []string{"docker.io/library/app", "ghcr.io/org/tool"}
	if diff := cmp.Diff(repos, wantRepos); diff != "" {
		t.Errorf("catalog (-got +want):\n%s", diff)
	}
	tagOf := map[string]string{"docker.io/library/app": "v1", "ghcr.io/org/tool": "1"}
	for _, repo := range repos {
		if _, err := remote.Head(ref(t, bw+"/"+repo+":"+tagOf[repo]), remote.WithContext(t.Context())); err != nil {
			t.Errorf("HEAD %s from the catalog: %v", repo, err)
		}
	}
	if reqs := append(s.hub.take(), s.ghcr.take()...); len(reqs) != 0 {
		t.Errorf("catalog round trip made upstream requests: %v", reqs)
	}
}

// TestPullPlatformFromIndex pulls one platform of a two-platform index, as
// a client on that platform does, and checks the mirror form ?ns= works.
func TestPullPlatformFromIndex(t *testing.T) {
	s := newStack(t)
	bw := strings.TrimPrefix(s.srv.URL, "http://")

	amd, arm := randomImage(t, 2), randomImage(t, 2)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, "application/vnd.oci.image.index.v1+json"),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	if err := remote.WriteIndex(ref(t, s.hub.host()+"/library/multi:latest"), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push index: %v", err)
	}
	idxDigest, _ := idx.Digest()
	s.hub.take()

	desc, err := remote.Get(ref(t, bw+"/multi:latest"), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("get index: %v", err)
	}
	if desc.Digest != idxDigest {
		t.Errorf("index digest = %s, want the upstream's %s", desc.Digest, idxDigest)
	}

	for _, tt := range []struct {
		platform v1.Platform
		img      v1.Image
	}{
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm},
		{v1.Platform{OS: "linux", Architecture: "amd64"}, amd},
	} {
		got := pullImage(t, ref(t, bw+"/multi:latest"), remote.WithPlatform(tt.platform))
		if diff := cmp.Diff(got, digestsOf(t, tt.img)); diff != "" {
			t.Errorf("%s digests (-got +want):\n%s", tt.platform, diff)
		}
	}
	s.hub.take()

	// containerd as a mirror client: the name as on the registry, ns naming it.
	resp := get(t, s.srv.URL+"/v2/library/multi/manifests/latest?ns=docker.io", "Accept", "application/vnd.oci.image.index.v1+json")
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != 200 || got != idxDigest.String() {
		t.Errorf("?ns=docker.io: %d %s, want 200 %s", resp.StatusCode, got, idxDigest)
	}
	if reqs := s.hub.take(); len(reqs) != 0 {
		t.Errorf("warm mirror pull made upstream requests: %v", reqs)
	}
}

// TestRangeThroughRealStack reads a warm layer in ranges, as a resumed
// download does.
func TestRangeThroughRealStack(t *testing.T) {
	s := newStack(t)
	img := randomImage(t, 1)
	push(t, s.hub, "library/app:v1", img)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	whole, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(whole)

	// A first read, whole, fills the store.
	blobURL := s.srv.URL + "/v2/app/blobs/" + ld.String()
	if _, err := io.Copy(io.Discard, get(t, blobURL).Body); err != nil {
		t.Fatalf("cold read: %v", err)
	}
	s.hub.take()

	for _, tt := range []struct {
		rng        string
		wantStatus int
		wantBody   []byte
	}{
		{"bytes=10-19", 206, want[10:20]},
		{fmt.Sprintf("bytes=%d-", size-5), 206, want[size-5:]},
		{fmt.Sprintf("bytes=%d-", size), 416, nil},
	} {
		resp := get(t, blobURL, "Range", tt.rng)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.rng, resp.StatusCode, tt.wantStatus)
		}
		if tt.wantBody != nil && string(body) != string(tt.wantBody) {
			t.Errorf("%s: body differs from the upstream's bytes", tt.rng)
		}
	}
	if reqs := s.hub.take(); len(reqs) != 0 {
		t.Errorf("range reads of a warm blob reached the upstream: %v", reqs)
	}
}

func get(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestColdBlobThroughRealStack covers the cold paths a pull meets: a HEAD
// that starts a fill and does not wait for it, and many clients asking for
// the same cold blob at once, which must cost one upstream GET.
func TestColdBlobThroughRealStack(t *testing.T) {
	s := newStack(t)
	img := randomImage(t, 2)
	push(t, s.hub, "library/app:v1", img)
	layers, _ := img.Layers()
	headDigest, _ := layers[0].Digest()
	size, _ := layers[0].Size()
	concurrentDigest, _ := layers[1].Digest()

	resp := head(t, s.srv.URL+"/v2/app/blobs/"+headDigest.String())
	if resp.StatusCode != 200 || resp.ContentLength != size || resp.Header.Get("Docker-Content-Digest") != headDigest.String() {
		t.Errorf("cold HEAD = %d, length %d, digest %s; want 200, %d, %s",
			resp.StatusCode, resp.ContentLength, resp.Header.Get("Docker-Content-Digest"), size, headDigest)
	}

	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			l, err := remote.Layer(ref(t, s.srv.URL[len("http://"):]+"/app").Context().Digest(concurrentDigest.String()), remote.WithContext(t.Context()))
			if err != nil {
				errs <- err
				return
			}
			rc, err := l.Compressed()
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent cold read: %v", err)
		}
	}

	gets := 0
	for _, r := range s.hub.take() {
		if r == "GET /v2/library/app/blobs/"+concurrentDigest.String() {
			gets++
		}
	}
	if gets != 1 {
		t.Errorf("%d clients caused %d upstream GETs of the blob, want 1", clients, gets)
	}
}

// TestBadUpstreamBlobThroughRealStack serves a blob whose bytes do not
// match its digest, or are cut off: the client must see a failed read,
// never a clean body, and nothing bad may stay cached.
func TestBadUpstreamBlobThroughRealStack(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(w http.ResponseWriter, body []byte)
	}{
		{"lying", func(w http.ResponseWriter, body []byte) {
			body[len(body)-1] ^= 0xff
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		}},
		{"truncated", func(w http.ResponseWriter, body []byte) {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			panic(http.ErrAbortHandler)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t)
			img := randomImage(t, 1)
			push(t, s.hub, "library/app:v1", img)
			layers, _ := img.Layers()
			ld, _ := layers[0].Digest()
			blobPath := "/v2/library/app/blobs/" + ld.String()

			s.hub.mu.Lock()
			s.hub.spoil = func(w http.ResponseWriter, r *http.Request, reg http.Handler) bool {
				if r.Method != "GET" || r.URL.Path != blobPath {
					return false
				}
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, r)
				if rec.Code != 200 {
					t.Errorf("upstream answered %d for the blob, want 200", rec.Code)
					return false
				}
				tt.spoil(w, rec.Body.Bytes())
				return true
			}
			s.hub.mu.Unlock()

			url := s.srv.URL + "/v2/app/blobs/" + ld.String()
			if n, err := readAll(t, url); err == nil {
				t.Fatalf("read %d bytes cleanly from a bad upstream, want an error", n)
			}

			// With the upstream healed, the blob fills again and is right.
			s.hub.mu.Lock()
			s.hub.spoil = nil
			s.hub.mu.Unlock()
			if _, err := readAll(t, url); err != nil {
				t.Errorf("read after the upstream healed: %v", err)
			}
		})
	}
}

// readAll reads url's body whole and checks it against the digest in the
// URL; any failure, before or during the body, is returned.
func readAll(t *testing.T, url string) (int64, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	want, err := v1.NewHash(url[strings.LastIndex(url, "/")+1:])
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, err
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != want.String() {
		t.Errorf("clean body of %d bytes hashes to %s, want %s", n, got, want)
	}
	return n, nil
}

func head(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "HEAD", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("HEAD %s: %v", url, err)
	}
	resp.Body.Close()
	return resp
}

// TestUnsizedUpstreamBlobThroughRealStack serves a blob without a
// Content-Length, as some upstreams and CDNs do: the client must get the
// whole blob when it is right, and a failed read when it is not.
func TestUnsizedUpstreamBlobThroughRealStack(t *testing.T) {
	tests := []struct {
		name    string
		lie     bool
		wantErr bool
	}{
		{"right", false, false},
		{"lying", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t)
			img := randomImage(t, 1)
			push(t, s.hub, "library/app:v1", img)
			layers, _ := img.Layers()
			ld, _ := layers[0].Digest()
			blobPath := "/v2/library/app/blobs/" + ld.String()

			s.hub.mu.Lock()
			s.hub.spoil = func(w http.ResponseWriter, r *http.Request, reg http.Handler) bool {
				if r.Method != "GET" || r.URL.Path != blobPath {
					return false
				}
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if tt.lie {
					body[len(body)-1] ^= 0xff
				}
				// Flushing before the end sends the body chunked, unsized.
				w.Write(body[:1])
				w.(http.Flusher).Flush()
				w.Write(body[1:])
				return true
			}
			s.hub.mu.Unlock()

			n, err := readAll(t, s.srv.URL+"/v2/app/blobs/"+ld.String())
			if (err != nil) != tt.wantErr {
				t.Errorf("read %d bytes, %v; want an error: %v", n, err, tt.wantErr)
			}
		})
	}
}
