package cache

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/upstream"
)

// Test bounds: every wait on the cache ends by this deadline, so a broken
// fill fails a test instead of hanging it. Nothing asserts timing.
const testDeadline = 30 * time.Second

const (
	testTagMaxAge   = time.Minute
	testNegativeTTL = 10 * time.Second
)

// env is a cache in front of go-containerregistry's in-memory registry on
// httptest, with real stores in a temporary directory and a fake clock.
// Every request reaching the upstream is counted by method and kind
// (manifests, blobs, tags, referrers) before an interceptor may answer it.
type env struct {
	t     *testing.T
	cache *Cache
	blobs store.Blobs
	meta  store.Meta
	srv   *httptest.Server
	reg   http.Handler
	clock *clock
	logs  *syncBuffer
	repo  Repo

	mu     sync.Mutex
	counts map[string]int
	// sent counts what the upstream client sent, whether or not the
	// server got to read it before the client gave up.
	sent map[string]int

	intercept atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
}

type envOption func(*envConfig)

type envConfig struct {
	referrers bool
	retries   int
	cache     func(*Options)
}

// withReferrersAPI makes the upstream answer the referrers API.
func withReferrersAPI() envOption { return func(c *envConfig) { c.referrers = true } }

// withRetries makes the upstream client retry n times (default none).
func withRetries(n int) envOption { return func(c *envConfig) { c.retries = n } }

// withOptions lets f change the cache's options before New.
func withOptions(f func(*Options)) envOption { return func(c *envConfig) { c.cache = f } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{retries: -1}
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{
		t:      t,
		reg:    registry.New(registry.WithReferrersSupport(cfg.referrers), registry.Logger(log.New(io.Discard, "", 0))),
		clock:  &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		logs:   &syncBuffer{},
		repo:   Repo{Upstream: "up", Path: "library/app"},
		counts: map[string]int{},
		sent:   map[string]int{},
	}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)

	client, err := upstream.New(upstream.Options{
		Name:      "up",
		URL:       e.srv.URL,
		Retries:   cfg.retries,
		Transport: sentCounter{e},
	})
	if err != nil {
		t.Fatalf("upstream.New: %v", err)
	}
	e.blobs, e.meta = newStores(t)
	copts := Options{
		Upstreams:   map[string]Upstream{"up": client},
		Blobs:       e.blobs,
		Meta:        e.meta,
		TagMaxAge:   testTagMaxAge,
		NegativeTTL: testNegativeTTL,
		Logger:      slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         e.clock.Now,
	}
	if cfg.cache != nil {
		cfg.cache(&copts)
	}
	e.cache = New(copts)
	t.Cleanup(e.checkClean)
	return e
}

// newStores returns empty filesystem and SQLite stores under t.TempDir().
func newStores(t *testing.T) (store.Blobs, store.Meta) {
	t.Helper()
	dir := t.TempDir()
	blobs, err := fs.New(filepath.Join(dir, "blobs"), fs.Options{})
	if err != nil {
		t.Fatalf("fs.New: %v", err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { meta.Close() })
	return blobs, meta
}

// checkClean closes the cache and checks that no fill and no spool file
// outlived the test.
func (e *env) checkClean() {
	e.t.Helper()
	e.cache.Close()
	e.cache.mu.Lock()
	fills := len(e.cache.fills)
	e.cache.mu.Unlock()
	if fills != 0 {
		e.t.Errorf("fills in flight after Close: got %d, want 0", fills)
	}
	e.checkTempEmpty()
}

func (e *env) checkTempEmpty() {
	e.t.Helper()
	entries, err := os.ReadDir(e.blobs.TempDir())
	if err != nil {
		e.t.Fatalf("read temp dir: %v", err)
	}
	for _, de := range entries {
		e.t.Errorf("left in temp dir: %s", de.Name())
	}
}

func (e *env) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.counts[r.Method+" "+requestKind(r.URL.Path)]++
	e.mu.Unlock()
	if h := e.intercept.Load(); h != nil && (*h)(w, r) {
		return
	}
	e.reg.ServeHTTP(w, r)
}

// requestKind names what a /v2/ path asks for.
func requestKind(path string) string {
	parts := strings.Split(path, "/")
	for i := len(parts) - 2; i > 1; i-- {
		switch parts[i] {
		case "manifests", "blobs", "tags", "referrers":
			return parts[i]
		}
	}
	return path
}

// sentCounter counts the requests the upstream client sends.
type sentCounter struct{ e *env }

func (c sentCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.e.mu.Lock()
	c.e.sent[r.Method+" "+requestKind(r.URL.Path)]++
	c.e.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// sentCount returns how many requests of method for kind the upstream
// client sent since the last resetCounts.
func (e *env) sentCount(method, kind string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sent[method+" "+kind]
}

// count returns how many requests of method for kind reached the upstream.
func (e *env) count(method, kind string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[method+" "+kind]
}

// total returns how many requests reached the upstream.
func (e *env) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.counts {
		n += c
	}
	return n
}

func (e *env) resetCounts() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.counts)
	clear(e.sent)
}

// setIntercept lets h answer requests first; h returns false to pass a
// request on to the registry. nil removes it.
func (e *env) setIntercept(h func(http.ResponseWriter, *http.Request) bool) {
	if h == nil {
		e.intercept.Store(nil)
		return
	}
	e.intercept.Store(&h)
}

// ref names repo path at tag (or digest) on the upstream.
func (e *env) ref(path, tagOrDigest string) name.Reference {
	e.t.Helper()
	sep := ":"
	if strings.Contains(tagOrDigest, ":") {
		sep = "@"
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	ref, err := name.ParseReference(host+"/"+path+sep+tagOrDigest, name.Insecure)
	if err != nil {
		e.t.Fatalf("parse reference: %v", err)
	}
	return ref
}

// push writes img to the upstream's library/app at tag and forgets the
// requests that took.
func (e *env) push(tag string, img v1.Image) digest.Digest {
	e.t.Helper()
	if err := remote.Write(e.ref(e.repo.Path, tag), img); err != nil {
		e.t.Fatalf("push %s: %v", tag, err)
	}
	e.resetCounts()
	return hashDigest(e.t, img.Digest)
}

// randomImage returns an image of layers random layers of size bytes.
func randomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	return img
}

func hashDigest(t *testing.T, f func() (v1.Hash, error)) digest.Digest {
	t.Helper()
	h, err := f()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return digest.Digest(h.String())
}

// layer returns the digest and bytes of img's i-th layer.
func layer(t *testing.T, img v1.Image, i int) (digest.Digest, []byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	rc, err := layers[i].Compressed()
	if err != nil {
		t.Fatalf("layer: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read layer: %v", err)
	}
	return digest.FromBytes(b), b
}

// ctx returns a context that ends the test's waits by testDeadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	t.Cleanup(cancel)
	return ctx
}

// readBlob reads all of b and closes it.
func readBlob(b *Blob) ([]byte, error) {
	defer b.Close()
	if b.File != nil {
		return io.ReadAll(b.File)
	}
	return io.ReadAll(b.Stream)
}

// clock is a fake clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
