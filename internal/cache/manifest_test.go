package cache

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
)

func tagRef(tag string) oci.Reference { return oci.Reference{Tag: tag} }

func TestManifestColdThenWarm(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	img := randomImage(t, 1024, 2)
	d := e.push("v1", img)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}

	// Cold: one GET by tag.
	m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
	if err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}
	if m.Digest != d || m.Hit || string(m.Body) != string(raw) {
		t.Errorf("cold: got digest %s hit %v, want %s hit false with the upstream's bytes", m.Digest, m.Hit, d)
	}
	if got := e.count("GET", "manifests"); got != 1 {
		t.Errorf("cold: upstream manifest GETs: got %d, want 1", got)
	}

	// Warm: the tag within its maximum age and the digest cost nothing.
	e.resetCounts()
	e.clock.Advance(testTagMaxAge / 2)
	for _, ref := range []oci.Reference{tagRef("v1"), {Digest: d}} {
		m, err := e.cache.Manifest(ctx, e.repo, ref)
		if err != nil {
			t.Fatalf("warm Manifest %s: %v", ref, err)
		}
		if m.Digest != d || !m.Hit || string(m.Body) != string(raw) {
			t.Errorf("warm %s: got digest %s hit %v, want %s hit true", ref, m.Digest, m.Hit, d)
		}
		if m.MediaType != oci.MediaTypeDockerManifest {
			t.Errorf("warm %s: media type: got %q, want %q", ref, m.MediaType, oci.MediaTypeDockerManifest)
		}
	}

	// The manifest's blobs are known to the repository, cold at first.
	cfg := hashDigest(t, img.ConfigName)
	ld, lb := layer(t, img, 1)
	for _, bd := range []digest.Digest{cfg, ld} {
		if err := e.meta.HasBlob(ctx, e.repo.String(), bd); err != nil {
			t.Errorf("HasBlob %s after manifest: %v", bd, err)
		}
	}
	b, err := e.cache.Blob(ctx, e.repo, ld)
	if err != nil {
		t.Fatalf("cold Blob: %v", err)
	}
	// A small blob may be stored before the caller joins: then a file.
	if b.Hit || b.Size != int64(len(lb)) {
		t.Errorf("cold Blob: got hit %v size %d, want a miss of %d bytes", b.Hit, b.Size, len(lb))
	}
	if got, err := readBlob(b); err != nil || string(got) != string(lb) {
		t.Fatalf("cold Blob read: %d bytes, %v; want %d bytes", len(got), err, len(lb))
	}
	b, err = e.cache.Blob(ctx, e.repo, ld)
	if err != nil {
		t.Fatalf("warm Blob: %v", err)
	}
	if !b.Hit || b.File == nil || b.Size != int64(len(lb)) {
		t.Errorf("warm Blob: got hit %v file %v size %d, want a stored file of %d bytes", b.Hit, b.File != nil, b.Size, len(lb))
	}
	if got, err := readBlob(b); err != nil || string(got) != string(lb) {
		t.Errorf("warm Blob read: %d bytes, %v; want %d bytes", len(got), err, len(lb))
	}
	if got := e.count("GET", "blobs"); got != 1 {
		t.Errorf("upstream blob GETs for a cold then warm blob: got %d, want 1", got)
	}
	if got := e.total(); got != 1 {
		t.Errorf("upstream requests while warm: got %d, want 1 (the cold blob)", got)
	}
	repos, err := e.cache.Catalog(ctx, "", 0)
	if err != nil || !cmp.Equal(repos, []string{"up/library/app"}) {
		t.Errorf("Catalog: got %v, %v; want [up/library/app]", repos, err)
	}
}

func TestManifestConcurrentColdTagFetchesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d := e.push("v1", randomImage(t, 512, 1))
	const callers = 10
	release := make(chan struct{})
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		<-release // hold the fetch until every caller waits for it
		return false
	})
	var joined sync.WaitGroup
	joined.Add(callers)
	e.cache.joinedFlight = func(string) { joined.Done() }

	errs := make(chan error, callers)
	for range callers {
		go func() {
			m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
			if err == nil && m.Digest != d {
				err = errors.New("wrong digest " + m.Digest.String())
			}
			errs <- err
		}()
	}
	joined.Wait()
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("Manifest: %v", err)
		}
	}
	if got := e.count("GET", "manifests"); got != 1 {
		t.Errorf("upstream manifest GETs for %d concurrent callers: got %d, want 1", callers, got)
	}
}

func TestTagRevalidation(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	first := e.push("v1", randomImage(t, 512, 1))
	if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}

	// Past the maximum age and unchanged: one HEAD, no GET.
	e.resetCounts()
	e.clock.Advance(testTagMaxAge + 1)
	m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
	if err != nil {
		t.Fatalf("stale Manifest: %v", err)
	}
	if m.Digest != first || m.Hit || m.Stale {
		t.Errorf("revalidated: got %s hit %v stale %v, want %s hit false stale false", m.Digest, m.Hit, m.Stale, first)
	}
	if h, g := e.count("HEAD", "manifests"), e.count("GET", "manifests"); h != 1 || g != 0 {
		t.Errorf("revalidating an unchanged tag: got %d HEAD %d GET, want 1 HEAD 0 GET", h, g)
	}

	// The HEAD refreshed the tag: fresh again for another max age.
	e.resetCounts()
	e.clock.Advance(testTagMaxAge - 1)
	if m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil || !m.Hit {
		t.Errorf("after revalidation: got %v, %v; want a hit", m, err)
	}
	if got := e.total(); got != 0 {
		t.Errorf("upstream requests for a refreshed tag: got %d, want 0", got)
	}

	// The tag moved upstream: one HEAD, one GET by digest, history grows.
	second := e.push("v1", randomImage(t, 512, 1))
	e.clock.Advance(testTagMaxAge)
	m, err = e.cache.Manifest(ctx, e.repo, tagRef("v1"))
	if err != nil {
		t.Fatalf("moved Manifest: %v", err)
	}
	if m.Digest != second {
		t.Errorf("moved tag: got %s, want %s", m.Digest, second)
	}
	if h, g := e.count("HEAD", "manifests"), e.count("GET", "manifests"); h != 1 || g != 1 {
		t.Errorf("revalidating a moved tag: got %d HEAD %d GET, want 1 HEAD 1 GET", h, g)
	}
	hist, err := e.meta.TagHistory(ctx, e.repo.String(), "v1")
	if err != nil {
		t.Fatalf("TagHistory: %v", err)
	}
	var got []digest.Digest
	for _, ev := range hist {
		got = append(got, ev.Digest)
	}
	if diff := cmp.Diff(got, []digest.Digest{first, second}); diff != "" {
		t.Errorf("tag history (-got +want):\n%s", diff)
	}
	if m, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: first}); err != nil || !m.Hit {
		t.Errorf("old digest after the tag moved: got %v, %v; want a hit", m, err)
	}
}

func TestStaleIfError(t *testing.T) {
	status := func(code int, header ...string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(code)
			return true
		}
	}
	tests := []struct {
		name string
		// fail breaks the upstream.
		fail func(e *env)
		// wantErr is nil when the cached digest must be served.
		wantErr error
	}{
		{"down", func(e *env) { e.srv.Close() }, nil},
		{"503", func(e *env) { e.setIntercept(status(http.StatusServiceUnavailable)) }, nil},
		{"500", func(e *env) { e.setIntercept(status(http.StatusInternalServerError)) }, nil},
		{"429", func(e *env) { e.setIntercept(status(http.StatusTooManyRequests, "Retry-After", "3600")) }, nil},
		{"401", func(e *env) { e.setIntercept(status(http.StatusUnauthorized)) }, nil},
		{"403", func(e *env) { e.setIntercept(status(http.StatusForbidden)) }, nil},
		{"tag gone", func(e *env) { e.setIntercept(notFound("MANIFEST_UNKNOWN")) }, oci.ErrManifestUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testContext(t)
			d := e.push("v1", randomImage(t, 512, 1))
			if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
				t.Fatalf("cold Manifest: %v", err)
			}
			e.clock.Advance(testTagMaxAge + 1)
			tt.fail(e)

			m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Manifest: got %v, %v; want error %v", m, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Manifest: %v", err)
			}
			if m.Digest != d || !m.Stale || m.Hit {
				t.Errorf("got %s stale %v hit %v, want %s stale true hit false", m.Digest, m.Stale, m.Hit, d)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "serving stale tag") || !strings.Contains(logs, "upstream=up") {
				t.Errorf("log: got %q, want a warning naming the upstream", logs)
			}
			// A pull by digest that is cached never asks the upstream.
			if m, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: d}); err != nil || !m.Hit {
				t.Errorf("by digest: got %v, %v; want a hit", m, err)
			}
		})
	}
}

func TestManifestUncachedUpstreamDown(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	e.srv.Close()
	_, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
	if !errors.Is(err, oci.ErrUnavailable) {
		t.Errorf("Manifest with no cached tag and the upstream down: got %v, want %v", err, oci.ErrUnavailable)
	}
}

func TestIndex(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(e.ref(e.repo.Path, "multi"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	e.resetCounts()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}

	m, err := e.cache.Manifest(ctx, e.repo, tagRef("multi"))
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	if !oci.IsIndex(m.MediaType) {
		t.Errorf("media type: got %q, want an index", m.MediaType)
	}
	child := digest.Digest(im.Manifests[1].Digest.String())
	if err := e.meta.HasBlob(ctx, e.repo.String(), child); err != nil {
		t.Errorf("child manifest recorded for the repository: %v", err)
	}
	c, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: child})
	if err != nil || c.Digest != child || c.Hit {
		t.Fatalf("child: got %v, %v; want %s fetched", c, err, child)
	}
	if got := e.count("GET", "manifests"); got != 2 {
		t.Errorf("upstream manifest GETs: got %d, want 2", got)
	}
}

func TestManifestRejectsLyingUpstream(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d := e.push("v1", randomImage(t, 512, 1))
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		body := `{"schemaVersion":2}`
		w.Header().Set("Content-Type", oci.MediaTypeOCIManifest)
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Write([]byte(body))
		return true
	})
	_, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: d})
	if !errors.Is(err, oci.ErrDigestInvalid) {
		t.Errorf("Manifest from a lying upstream: got %v, want %v", err, oci.ErrDigestInvalid)
	}
	if _, err := e.meta.Manifest(ctx, e.repo.String(), d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("meta after a lying upstream: got %v, want %v", err, store.ErrNotFound)
	}
	if _, err := e.blobs.Stat(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("blobs after a lying upstream: got %v, want %v", err, store.ErrNotFound)
	}
}

func TestUnknownUpstream(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	_, err := e.cache.Manifest(ctx, Repo{Upstream: "nope", Path: "library/app"}, tagRef("v1"))
	if !errors.Is(err, oci.ErrNameUnknown) {
		t.Errorf("Manifest of an unknown upstream: got %v, want %v", err, oci.ErrNameUnknown)
	}
}

// notFound answers every request with a 404 carrying code.
func notFound(code string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errors":[{"code":"` + code + `","message":"no"}]}`))
		return true
	}
}

func TestConcurrentStaleTagRevalidatesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d := e.push("v1", randomImage(t, 512, 1))
	if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}
	e.resetCounts()
	e.clock.Advance(testTagMaxAge + 1)

	const callers = 10
	release := make(chan struct{})
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return false
	})
	var joined sync.WaitGroup
	joined.Add(callers)
	e.cache.joinedFlight = func(string) { joined.Done() }
	errs := make(chan error, callers)
	for range callers {
		go func() {
			m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1"))
			if err == nil && m.Digest != d {
				err = errors.New("wrong digest " + m.Digest.String())
			}
			errs <- err
		}()
	}
	joined.Wait()
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("Manifest: %v", err)
		}
	}
	if h, g := e.count("HEAD", "manifests"), e.count("GET", "manifests"); h != 1 || g != 0 {
		t.Errorf("%d concurrent callers of a stale tag: got %d HEAD %d GET, want 1 HEAD 0 GET", callers, h, g)
	}
}
