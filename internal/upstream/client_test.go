package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

func mustDigest(t *testing.T, h v1.Hash) digest.Digest {
	t.Helper()
	d, err := digest.Parse(h.String())
	if err != nil {
		t.Fatalf("parse digest %s: %v", h, err)
	}
	return d
}

func tagRef(tag string) oci.Reference         { return oci.Reference{Tag: tag} }
func digestRef(d digest.Digest) oci.Reference { return oci.Reference{Digest: d} }
func imageDigest(t *testing.T, img v1.Image) digest.Digest {
	t.Helper()
	h, err := img.Digest()
	if err != nil {
		t.Fatalf("image digest: %v", err)
	}
	return mustDigest(t, h)
}

// authSetups are the ways a remote wants to be spoken to; every content
// test runs against each.
type authSetup struct {
	name string
	// remote returns the middlewares and the client options for them.
	remote func(t *testing.T) ([]middleware, Options)
}

var authSetups = []authSetup{
	{"anonymous", func(t *testing.T) ([]middleware, Options) { return nil, Options{} }},
	{"basic", func(t *testing.T) ([]middleware, Options) {
		return []middleware{requireBasic("alice", "s3cret")}, Options{Username: "alice", Password: "s3cret"}
	}},
	{"anonymous token", func(t *testing.T) ([]middleware, Options) {
		return []middleware{newTokenRealm(t, "", "").middleware}, Options{}
	}},
	{"credentialed token", func(t *testing.T) ([]middleware, Options) {
		return []middleware{newTokenRealm(t, "alice", "s3cret").middleware}, Options{Username: "alice", Password: "s3cret"}
	}},
}

func TestManifest(t *testing.T) {
	for _, setup := range authSetups {
		t.Run(setup.name, func(t *testing.T) {
			mws, opts := setup.remote(t)
			r := newRemote(t, mws...)
			img := r.pushImage(t, "library/node", "20")
			idx, err := random.Index(256, 1, 2)
			if err != nil {
				t.Fatalf("random index: %v", err)
			}
			r.write(t, "org/multi", "latest", idx)
			c, _ := newClient(t, r, opts)

			imgRaw, _ := img.RawManifest()
			idxRaw, _ := idx.RawManifest()
			idxDigest, _ := idx.Digest()
			imgType, _ := img.MediaType()
			tests := []struct {
				name     string
				repo     string
				ref      oci.Reference
				want     []byte
				wantType string
			}{
				{"image by tag", "library/node", tagRef("20"), imgRaw, string(imgType)},
				{"image by digest", "library/node", digestRef(imageDigest(t, img)), imgRaw, string(imgType)},
				{"index by tag", "org/multi", tagRef("latest"), idxRaw, oci.MediaTypeOCIIndex},
				{"index by digest", "org/multi", digestRef(mustDigest(t, idxDigest)), idxRaw, oci.MediaTypeOCIIndex},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					body, desc, err := c.Manifest(t.Context(), tt.repo, tt.ref)
					if err != nil {
						t.Fatalf("Manifest: %v", err)
					}
					want := oci.Descriptor{MediaType: tt.wantType, Digest: digest.FromBytes(tt.want), Size: int64(len(tt.want))}
					if !bytes.Equal(body, tt.want) || desc != want {
						t.Errorf("Manifest = %d bytes, %+v; want %d bytes, %+v", len(body), desc, len(tt.want), want)
					}

					head, err := c.HeadManifest(t.Context(), tt.repo, tt.ref)
					if err != nil {
						t.Fatalf("HeadManifest: %v", err)
					}
					if head != want {
						t.Errorf("HeadManifest = %+v, want %+v", head, want)
					}
				})
			}
		})
	}
}

func TestBlob(t *testing.T) {
	for _, setup := range authSetups {
		t.Run(setup.name, func(t *testing.T) {
			for _, redirect := range []bool{false, true} {
				mws, opts := setup.remote(t)
				var cdnURL string
				if redirect {
					mws = append(mws, redirectBlobs(func() string { return cdnURL }))
				}
				r := newRemote(t, mws...)
				cdnURL = newCDN(t, r).URL
				img := r.pushImage(t, "library/node", "20")
				layers, _ := img.Layers()
				d, _ := layers[0].Digest()
				want, _ := layers[0].Compressed()
				wantBytes, _ := io.ReadAll(want)
				c, _ := newClient(t, r, opts)

				rc, size, err := c.Blob(t.Context(), "library/node", mustDigest(t, d))
				if err != nil {
					t.Fatalf("Blob (redirect %v): %v", redirect, err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatalf("read blob (redirect %v): %v", redirect, err)
				}
				if !bytes.Equal(got, wantBytes) || size != int64(len(wantBytes)) {
					t.Errorf("Blob (redirect %v) = %d bytes, size %d; want %d bytes", redirect, len(got), size, len(wantBytes))
				}
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	r := newRemote(t)
	r.pushImage(t, "library/node", "20")
	c, _ := newClient(t, r, Options{})
	missing := digest.FromString("missing")

	tests := []struct {
		name string
		call func(context.Context) error
		want error
	}{
		{"manifest tag", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/node", tagRef("nope"))
			return err
		}, oci.ErrManifestUnknown},
		{"manifest digest", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/node", digestRef(missing))
			return err
		}, oci.ErrManifestUnknown},
		{"manifest unknown repo", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/nope", tagRef("1"))
			return err
		}, oci.ErrNameUnknown},
		{"head manifest", func(ctx context.Context) error {
			_, err := c.HeadManifest(ctx, "library/node", tagRef("nope"))
			return err
		}, oci.ErrManifestUnknown},
		{"blob", func(ctx context.Context) error {
			_, _, err := c.Blob(ctx, "library/node", missing)
			return err
		}, oci.ErrBlobUnknown},
		{"tags", func(ctx context.Context) error {
			_, err := c.Tags(ctx, "library/nope")
			return err
		}, oci.ErrNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			if !errors.Is(err, tt.want) || !IsNotFound(err) {
				t.Errorf("err = %v; want %v and IsNotFound", err, tt.want)
			}
		})
	}
}

func TestManifestContentErrors(t *testing.T) {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	d := imageDigest(t, img)
	addSpace := func(b []byte) []byte { return append(b, ' ') }
	huge := func([]byte) []byte { return bytes.Repeat([]byte{' '}, MaxManifestSize+1) }

	tests := []struct {
		name     string
		mw       func() (middleware, any)
		ref      oci.Reference
		want     error
		notFound bool
	}{
		{"lying by digest", func() (middleware, any) { return rewriteManifests(100, addSpace, false) }, digestRef(d), oci.ErrDigestInvalid, false},
		{"lying by tag", func() (middleware, any) { return rewriteManifests(100, addSpace, false) }, tagRef("1"), oci.ErrDigestInvalid, false},
		{"too large", func() (middleware, any) { return rewriteManifests(100, huge, false) }, tagRef("1"), ErrTooLarge, false},
		{"always truncated", func() (middleware, any) { return rewriteManifests(100, nil, true) }, tagRef("1"), oci.ErrUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, _ := tt.mw()
			r := newRemote(t, mw)
			r.write(t, "app", "1", img)
			c, _ := newClient(t, r, Options{})

			_, _, err := c.Manifest(t.Context(), "app", tt.ref)
			if !errors.Is(err, tt.want) || IsNotFound(err) {
				t.Errorf("Manifest err = %v; want %v, not a not-found", err, tt.want)
			}
		})
	}
}

func TestTruncatedManifestIsRetried(t *testing.T) {
	mw, seen := rewriteManifests(1, nil, true)
	r := newRemote(t, mw)
	img := r.pushImage(t, "app", "1")
	c, waits := newClient(t, r, Options{})

	body, desc, err := c.Manifest(t.Context(), "app", tagRef("1"))
	if err != nil {
		t.Fatalf("Manifest: %v", err)
	}
	raw, _ := img.RawManifest()
	if !bytes.Equal(body, raw) || desc.Digest != imageDigest(t, img) {
		t.Errorf("Manifest = %d bytes %s, want %d bytes %s", len(body), desc.Digest, len(raw), imageDigest(t, img))
	}
	if got := seen.Load(); got != 2 || len(*waits) != 1 {
		t.Errorf("manifest GETs = %d, waits = %d; want 2 and 1", got, len(*waits))
	}
}

func TestTags(t *testing.T) {
	r := newRemote(t, paginateTags)
	img, _ := random.Image(128, 1)
	want := []string{"1", "2", "3", "4", "5"}
	for _, tag := range want {
		r.write(t, "app", tag, img)
	}
	c, _ := newClient(t, r, Options{})

	got, err := c.Tags(t.Context(), "app")
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Tags = %v, want %v", got, want)
	}
}

func TestTagsPagesAreBounded(t *testing.T) {
	var pages atomic.Int64
	endless := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := strconv.FormatInt(pages.Add(1), 10)
			w.Header().Set("Link", `</v2/app/tags/list?page=`+n+`>; rel="next"`)
			_, _ = w.Write([]byte(`{"name":"app","tags":["t` + n + `"]}`))
		})
	}
	r := newRemote(t, endless)
	c, _ := newClient(t, r, Options{})

	got, err := c.Tags(t.Context(), "app")
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if len(got) != maxTagPages || pages.Load() != maxTagPages {
		t.Errorf("Tags = %d tags from %d pages, want %d from %d", len(got), pages.Load(), maxTagPages, maxTagPages)
	}
}

func TestReferrers(t *testing.T) {
	r := newRemote(t)
	img := r.pushImage(t, "app", "1")
	mf, _ := img.Manifest()
	h, _ := img.Digest()
	size, _ := img.Size()
	subject := v1.Descriptor{MediaType: mf.MediaType, Digest: h, Size: size}
	sig, _ := random.Image(64, 1)
	sig = mutate.MediaType(sig, types.OCIManifestSchema1)
	sig = mutate.ConfigMediaType(sig, "application/vnd.example.sig")
	sig = mutate.Subject(sig, subject).(v1.Image)
	r.write(t, "app", "sig", sig)
	c, _ := newClient(t, r, Options{})

	body, err := c.Referrers(t.Context(), "app", imageDigest(t, img), "")
	if err != nil {
		t.Fatalf("Referrers: %v", err)
	}
	if !bytes.Contains(body, []byte(imageDigest(t, sig).String())) {
		t.Errorf("Referrers = %s, want it to list %s", body, imageDigest(t, sig))
	}

	t.Run("no referrers API", func(t *testing.T) {
		plain := newRemote(t, func(http.Handler) http.Handler { return http.NotFoundHandler() })
		c, _ := newClient(t, plain, Options{})
		_, err := c.Referrers(t.Context(), "app", imageDigest(t, img), "x")
		if !errors.Is(err, oci.ErrManifestUnknown) {
			t.Errorf("Referrers err = %v, want %v", err, oci.ErrManifestUnknown)
		}
	})
}

func TestSearch(t *testing.T) {
	const answer = `{"num_results":1,"query":"node","results":[{"name":"library/node"}]}`
	var gotQuery, gotAuth string
	search := newRemote(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotQuery, gotAuth = r.URL.RawQuery, r.Header.Get("Authorization")
			if r.URL.Path != "/v1/search" {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write([]byte(answer))
		})
	})
	reg := newRemote(t, requireBasic("alice", "s3cret"))
	c, _ := newClient(t, reg, Options{Username: "alice", Password: "s3cret"})
	if err := c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	body, err := c.Search(t.Context(), search.srv.URL, "q=node&n=25")
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if string(body) != answer || gotQuery != "n=25&q=node" || gotAuth != "" {
		t.Errorf("Search = %s with query %q auth %q; want %s with n=25&q=node and no auth", body, gotQuery, gotAuth, answer)
	}
}

func TestPing(t *testing.T) {
	status := func(code int) middleware {
		return func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeError(w, code, "X") })
		}
	}
	closed := newRemote(t)
	closed.srv.Close()

	tests := []struct {
		name   string
		remote *testRemote
		want   error
	}{
		{"ok", newRemote(t), nil},
		{"basic challenge", newRemote(t, requireBasic("a", "b")), nil},
		{"token challenge", newRemote(t, newTokenRealm(t, "", "").middleware), nil},
		{"5xx", newRemote(t, status(http.StatusInternalServerError)), oci.ErrUnavailable},
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
	r := newRemote(t, rateLimitHeaders())
	r.pushImage(t, "app", "1")
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
	if !got.Known || got.Limit != 100 || got.Remaining != 97 || got.Window.Hours() != 6 {
		t.Errorf("RateLimit = %+v, want limit 100 remaining 97 window 6h", got)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
	}{
		{"https://registry-1.docker.io", false},
		{"http://127.0.0.1:1/", false}, // nothing listens: New must not care
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
			if r.Method == http.MethodGet && isManifest(r) {
				gets.Add(1)
			}
			if r.Method == http.MethodHead {
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				for k, v := range rec.Header() {
					if k != "Docker-Content-Digest" {
						w.Header()[k] = v
					}
				}
				w.WriteHeader(rec.Code)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	r := newRemote(t, strip)
	img := r.pushImage(t, "app", "1")
	c, _ := newClient(t, r, Options{})

	desc, err := c.HeadManifest(t.Context(), "app", tagRef("1"))
	if err != nil {
		t.Fatalf("HeadManifest: %v", err)
	}
	if desc.Digest != imageDigest(t, img) || gets.Load() != 1 {
		t.Errorf("HeadManifest = %s after %d GETs, want %s after 1", desc.Digest, gets.Load(), imageDigest(t, img))
	}
}
