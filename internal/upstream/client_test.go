package upstream

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"breakwater/internal/oci"
	"breakwater/internal/upstream/upstreamtest"
)

func TestIsNotFound(t *testing.T) {
	r := upstreamtest.NewRemote(t)
	r.PushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})
	down := upstreamtest.NewRemote(t, upstreamtest.Respond(func(w http.ResponseWriter, _ *http.Request) {
		upstreamtest.WriteError(w, http.StatusServiceUnavailable, "UNAVAILABLE")
	}))
	cDown, _ := newClient(t, down, Options{Retries: -1})

	tests := []struct {
		name string
		err  func() error
		want bool
	}{
		{"unknown tag", func() error { _, err := c.HeadManifest(t.Context(), "app", tagRef("nope")); return err }, true},
		{"unknown repository", func() error { _, err := c.Tags(t.Context(), "nope"); return err }, true},
		{"unknown blob", func() error { _, _, err := c.Blob(t.Context(), "app", zeroDigest); return err }, true},
		{"remote down", func() error { _, err := cDown.HeadManifest(t.Context(), "app", tagRef("1")); return err }, false},
		{"no error", func() error { _, err := c.HeadManifest(t.Context(), "app", tagRef("1")); return err }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if got := IsNotFound(err); got != tt.want {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

func TestManifestTooLarge(t *testing.T) {
	huge := func([]byte) []byte { return bytes.Repeat([]byte{' '}, MaxManifestSize+1) }
	mw, _ := upstreamtest.RewriteManifests(100, huge, false)
	r := upstreamtest.NewRemote(t, mw)
	r.PushImage(t, "app", "1")
	c, waits := newClient(t, r, Options{})

	_, _, err := c.Manifest(t.Context(), "app", tagRef("1"))
	if !errors.Is(err, ErrTooLarge) || len(waits.get()) != 0 {
		t.Errorf("Manifest err = %v after waits %v; want %v without retry", err, waits.get(), ErrTooLarge)
	}
}

func TestTruncatedManifestIsRetried(t *testing.T) {
	mw, gets := upstreamtest.RewriteManifests(1, nil, true)
	r := upstreamtest.NewRemote(t, mw)
	img := r.PushImage(t, "app", "1")
	c, waits := newClient(t, r, Options{})

	body, desc, err := c.Manifest(t.Context(), "app", tagRef("1"))
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	raw, _ := img.RawManifest()
	if !bytes.Equal(body, raw) || desc.Digest != upstreamtest.Digest(t, img) {
		t.Errorf("Manifest = %d bytes %s, want %d bytes %s", len(body), desc.Digest, len(raw), upstreamtest.Digest(t, img))
	}
	if gets.Load() != 2 || len(waits.get()) != 1 {
		t.Errorf("manifest GETs = %d, waits = %v; want 2 GETs and 1 wait", gets.Load(), waits.get())
	}
}

func TestTagsPagesAreBounded(t *testing.T) {
	var pages atomic.Int64
	endless := upstreamtest.Respond(func(w http.ResponseWriter, r *http.Request) {
		n := strconv.FormatInt(pages.Add(1), 10)
		w.Header().Set("Link", `</v2/app/tags/list?page=`+n+`>; rel="next"`)
		_, _ = w.Write([]byte(`{"name":"app","tags":["t` + n + `"]}`))
	})
	r := upstreamtest.NewRemote(t, endless)
	c, _ := newClient(t, r, Options{})

	got, err := c.Tags(t.Context(), "app")
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if len(got) != maxTagPages || pages.Load() != maxTagPages {
		t.Errorf("Tags = %d tags from %d pages, want %d from %d", len(got), pages.Load(), maxTagPages, maxTagPages)
	}
}

func TestSearch(t *testing.T) {
	const answer = `{"num_results":1,"query":"node","results":[{"name":"library/node"}]}`
	var gotPath, gotQuery, gotAuth string
	index := upstreamtest.NewRemote(t, upstreamtest.Respond(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotQuery, gotAuth = r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		_, _ = w.Write([]byte(answer))
	}))
	reg := upstreamtest.NewRemote(t, upstreamtest.RequireBasic("alice", "s3cret"))
	reg.PushImage(t, "app", "1")
	c, _ := newClient(t, reg, Options{Username: "alice", Password: "s3cret"})
	// Make the client send Basic credentials proactively to the registry.
	if _, err := c.HeadManifest(t.Context(), "app", tagRef("1")); err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}

	for _, searchURL := range []string{index.URL, index.URL + "/", index.URL + "/v1/search"} {
		t.Run(searchURL, func(t *testing.T) {
			body, err := c.Search(t.Context(), searchURL, "q=node&n=25&q=evil")
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if string(body) != answer || gotPath != "/v1/search" || gotQuery != "n=25&q=node&q=evil" || gotAuth != "" {
				t.Errorf("Search = %s via %s?%s auth %q; want %s via /v1/search?n=25&q=node&q=evil, no auth", body, gotPath, gotQuery, gotAuth, answer)
			}
		})
	}
}

func TestPing(t *testing.T) {
	closed := upstreamtest.NewRemote(t)
	closed.Server.Close()
	status := func(code int) upstreamtest.Middleware {
		return upstreamtest.Respond(func(w http.ResponseWriter, _ *http.Request) { upstreamtest.WriteError(w, code, "X") })
	}

	tests := []struct {
		name   string
		remote *upstreamtest.Remote
		want   error
	}{
		{"ok", upstreamtest.NewRemote(t), nil},
		{"challenge", upstreamtest.NewRemote(t, upstreamtest.RequireBasic("a", "b")), nil},
		{"5xx", upstreamtest.NewRemote(t, status(http.StatusInternalServerError)), oci.ErrUnavailable},
		{"404", upstreamtest.NewRemote(t, status(http.StatusNotFound)), oci.ErrUnavailable},
		{"unreachable", closed, oci.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newClient(t, tt.remote, Options{Retries: -1})
			if err := c.Ping(t.Context()); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Ping = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	r := upstreamtest.NewRemote(t, upstreamtest.RateLimitHeaders())
	r.PushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})
	if got := c.RateLimit(); got.Known {
		t.Fatalf("RateLimit before any request = %+v, want unknown", got)
	}

	for range 3 {
		if _, err := c.HeadManifest(t.Context(), "app", tagRef("1")); err != nil {
			t.Fatalf("HeadManifest: %v", err)
		}
	}
	got := c.RateLimit()
	if !got.Known || got.Limit != 100 || got.Remaining != 97 || got.Window.Hours() != 6 || got.UpdatedAt.IsZero() {
		t.Errorf("RateLimit = %+v, want limit 100, remaining 97, window 6h, a time", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"https://registry-1.docker.io", false},
		{"http://127.0.0.1:1/", false}, // nothing listens there: New must not care
		{"ftp://example.com", true},
		{"registry-1.docker.io", true},
		{"", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := New(Options{URL: tt.url})
			if (err != nil) != tt.wantErr {
				t.Errorf("New(%q) err = %v, want error %v", tt.url, err, tt.wantErr)
			}
		})
	}
}

// TestHeadWithoutDigest: a remote that leaves Docker-Content-Digest out of
// its HEAD answers still resolves, at the price of a GET.
func TestHeadWithoutDigest(t *testing.T) {
	var gets atomic.Int64
	strip := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodHead {
				gets.Add(1)
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				if k != "Docker-Content-Digest" {
					w.Header()[k] = v
				}
			}
			w.WriteHeader(rec.Code)
		})
	}
	r := upstreamtest.NewRemote(t, strip)
	img := r.PushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})

	desc, err := c.HeadManifest(t.Context(), "app", tagRef("1"))
	if err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	if desc.Digest != upstreamtest.Digest(t, img) || gets.Load() != 1 {
		t.Errorf("HeadManifest = %s after %d GETs, want %s after 1", desc.Digest, gets.Load(), upstreamtest.Digest(t, img))
	}
}

func TestIndexMediaTypeFromBody(t *testing.T) {
	idx, err := random.Index(64, 1, 1)
	if err != nil {
		t.Fatalf("random index: %v", err)
	}
	generic := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
	r := upstreamtest.NewRemote(t, generic)
	r.Write(t, "app", "1", idx)
	c, _ := newClient(t, r, Options{})

	_, desc, err := c.Manifest(t.Context(), "app", tagRef("1"))
	if err != nil || desc.MediaType != oci.MediaTypeOCIIndex {
		t.Errorf("Manifest = %q, %v; want %q", desc.MediaType, err, oci.MediaTypeOCIIndex)
	}
}
