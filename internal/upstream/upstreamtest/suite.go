package upstreamtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

// Client is the contract under test: what the cache needs of a remote
// registry, plus Ping.
type Client interface {
	Manifest(ctx context.Context, repo string, ref oci.Reference) ([]byte, oci.Descriptor, error)
	HeadManifest(ctx context.Context, repo string, ref oci.Reference) (oci.Descriptor, error)
	Blob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error)
	Tags(ctx context.Context, repo string) ([]string, error)
	Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]byte, error)
	Ping(ctx context.Context) error
}

// Config is what a client under test is built from.
type Config struct {
	URL      string
	Username string
	Password string
}

// NewClient builds the client under test for a remote.
type NewClient func(t *testing.T, cfg Config) Client

// AuthSetup is one way a remote wants to be spoken to.
type AuthSetup struct {
	Name string
	// Remote returns the middleware that makes the remote demand it and
	// the credentials the client needs.
	Remote func(t *testing.T) (Middleware, Config)
}

// AuthSetups are anonymous, Basic, and Bearer tokens with and without
// credentials.
var AuthSetups = []AuthSetup{
	{"anonymous", func(t *testing.T) (Middleware, Config) { return nil, Config{} }},
	{"basic", func(t *testing.T) (Middleware, Config) {
		return RequireBasic("alice", "s3cret"), Config{Username: "alice", Password: "s3cret"}
	}},
	{"anonymous token", func(t *testing.T) (Middleware, Config) {
		return NewTokenRealm(t, "", "").Middleware, Config{}
	}},
	{"credentialed token", func(t *testing.T) (Middleware, Config) {
		return NewTokenRealm(t, "alice", "s3cret").Middleware, Config{Username: "alice", Password: "s3cret"}
	}},
}

// Run runs the suite against clients built by newClient.
func Run(t *testing.T, newClient NewClient) {
	for _, setup := range AuthSetups {
		t.Run(setup.Name, func(t *testing.T) {
			t.Run("manifest", func(t *testing.T) { testManifest(t, setup, newClient) })
			t.Run("blob", func(t *testing.T) { testBlob(t, setup, newClient) })
			t.Run("tags", func(t *testing.T) { testTags(t, setup, newClient) })
			t.Run("referrers", func(t *testing.T) { testReferrers(t, setup, newClient) })
			t.Run("ping", func(t *testing.T) { testPing(t, setup, newClient) })
		})
	}
	t.Run("not found", func(t *testing.T) { testNotFound(t, newClient) })
	t.Run("refused", func(t *testing.T) { testRefused(t, newClient) })
	t.Run("lying remote", func(t *testing.T) { testLying(t, newClient) })
	t.Run("transient failures", func(t *testing.T) { testTransient(t, newClient) })
	t.Run("token per scope", func(t *testing.T) { testTokenPerScope(t, newClient) })
}

// startRemote starts a remote demanding setup's auth, with extra middlewares
// inside it, and a client for it.
func startRemote(t *testing.T, setup AuthSetup, newClient NewClient, extra ...Middleware) (*Remote, Client) {
	t.Helper()
	mw, cfg := setup.Remote(t)
	var mws []Middleware
	if mw != nil {
		mws = append(mws, mw)
	}
	r := NewRemote(t, append(mws, extra...)...)
	cfg.URL = r.URL
	return r, newClient(t, cfg)
}

// Digest returns the digest of anything with one, such as a v1.Image.
func Digest(t testing.TB, x interface{ Digest() (v1.Hash, error) }) digest.Digest {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return digest.Digest(h.String())
}

func testManifest(t *testing.T, setup AuthSetup, newClient NewClient) {
	r, c := startRemote(t, setup, newClient)
	img := r.PushImage(t, "library/node", "20")
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatalf("random index: %v", err)
	}
	r.Write(t, "org/multi", "latest", idx)

	imgRaw, _ := img.RawManifest()
	imgType, _ := img.MediaType()
	idxRaw, _ := idx.RawManifest()
	tests := []struct {
		name     string
		repo     string
		ref      oci.Reference
		want     []byte
		wantType string
	}{
		{"image by tag", "library/node", oci.Reference{Tag: "20"}, imgRaw, string(imgType)},
		{"image by digest", "library/node", oci.Reference{Digest: Digest(t, img)}, imgRaw, string(imgType)},
		{"index by tag", "org/multi", oci.Reference{Tag: "latest"}, idxRaw, oci.MediaTypeOCIIndex},
		{"index by digest", "org/multi", oci.Reference{Digest: Digest(t, idx)}, idxRaw, oci.MediaTypeOCIIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := oci.Descriptor{MediaType: tt.wantType, Digest: digest.FromBytes(tt.want), Size: int64(len(tt.want))}
			body, desc, err := c.Manifest(t.Context(), tt.repo, tt.ref)
			if err != nil {
				t.Fatalf("Manifest: %v", err)
			}
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
}

func testBlob(t *testing.T, setup AuthSetup, newClient NewClient) {
	for _, redirect := range []bool{false, true} {
		name := "direct"
		if redirect {
			name = "redirected to a CDN"
		}
		t.Run(name, func(t *testing.T) {
			var cdnURL string
			var extra []Middleware
			if redirect {
				extra = append(extra, RedirectBlobs(func() string { return cdnURL }))
			}
			r, c := startRemote(t, setup, newClient, extra...)
			cdnURL = NewCDN(t, r).URL
			img := r.PushImage(t, "library/node", "20")
			layers, _ := img.Layers()
			rc, _ := layers[0].Compressed()
			want, _ := io.ReadAll(rc)

			body, size, err := c.Blob(t.Context(), "library/node", Digest(t, layers[0]))
			if err != nil {
				t.Fatalf("Blob: %v", err)
			}
			got, err := io.ReadAll(body)
			body.Close()
			if err != nil {
				t.Fatalf("read blob: %v", err)
			}
			if !bytes.Equal(got, want) || size != int64(len(want)) {
				t.Errorf("Blob = %d bytes, size %d; want %d bytes", len(got), size, len(want))
			}
		})
	}
}

func testTags(t *testing.T, setup AuthSetup, newClient NewClient) {
	r, c := startRemote(t, setup, newClient, PaginateTags)
	img, _ := random.Image(128, 1)
	want := []string{"1", "2", "3", "4", "5"}
	for _, tag := range want {
		r.Write(t, "app", tag, img)
	}

	got, err := c.Tags(t.Context(), "app")
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Tags = %v, want %v", got, want)
	}
}

func testReferrers(t *testing.T, setup AuthSetup, newClient NewClient) {
	r, c := startRemote(t, setup, newClient)
	img := r.PushImage(t, "app", "1")
	mf, _ := img.Manifest()
	size, _ := img.Size()
	h, _ := img.Digest()
	sig, _ := random.Image(64, 1)
	sig = mutate.MediaType(sig, types.OCIManifestSchema1)
	sig = mutate.ConfigMediaType(sig, "application/vnd.example.sig")
	sig = mutate.Subject(sig, v1.Descriptor{MediaType: mf.MediaType, Digest: h, Size: size}).(v1.Image)
	r.Write(t, "app", "sig", sig)

	body, err := c.Referrers(t.Context(), "app", Digest(t, img), "")
	if err != nil {
		t.Fatalf("Referrers: %v", err)
	}
	if !bytes.Contains(body, []byte(Digest(t, sig))) {
		t.Errorf("Referrers = %s, want it to list %s", body, Digest(t, sig))
	}
}

func testPing(t *testing.T, setup AuthSetup, newClient NewClient) {
	_, c := startRemote(t, setup, newClient)
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

func testNotFound(t *testing.T, newClient NewClient) {
	r := NewRemote(t)
	r.PushImage(t, "library/node", "20")
	c := newClient(t, Config{URL: r.URL})
	missing := digest.FromString("missing")

	tests := []struct {
		name string
		call func(context.Context) error
		want error
	}{
		{"manifest tag", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/node", oci.Reference{Tag: "nope"})
			return err
		}, oci.ErrManifestUnknown},
		{"manifest digest", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/node", oci.Reference{Digest: missing})
			return err
		}, oci.ErrManifestUnknown},
		{"manifest of unknown repository", func(ctx context.Context) error {
			_, _, err := c.Manifest(ctx, "library/nope", oci.Reference{Tag: "1"})
			return err
		}, oci.ErrNameUnknown},
		{"head manifest", func(ctx context.Context) error {
			_, err := c.HeadManifest(ctx, "library/node", oci.Reference{Tag: "nope"})
			return err
		}, oci.ErrManifestUnknown},
		{"blob", func(ctx context.Context) error {
			_, _, err := c.Blob(ctx, "library/node", missing)
			return err
		}, oci.ErrBlobUnknown},
		{"tags of unknown repository", func(ctx context.Context) error {
			_, err := c.Tags(ctx, "library/nope")
			return err
		}, oci.ErrNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(t.Context()); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("no referrers API", func(t *testing.T) {
		plain := NewRemote(t, Respond(http.NotFound))
		c := newClient(t, Config{URL: plain.URL})
		if _, err := c.Referrers(t.Context(), "app", missing, ""); !errors.Is(err, oci.ErrManifestUnknown) {
			t.Errorf("Referrers err = %v, want %v", err, oci.ErrManifestUnknown)
		}
	})
}

func testRefused(t *testing.T, newClient NewClient) {
	tests := []struct {
		name string
		mw   func(t *testing.T) Middleware
		cfg  Config
	}{
		{"wrong basic password", func(*testing.T) Middleware { return RequireBasic("alice", "s3cret") }, Config{Username: "alice", Password: "wrong"}},
		{"basic without credentials", func(*testing.T) Middleware { return RequireBasic("alice", "s3cret") }, Config{}},
		{"realm refuses credentials", func(t *testing.T) Middleware { return NewTokenRealm(t, "alice", "s3cret").Middleware }, Config{Username: "alice", Password: "wrong"}},
		{"realm wants credentials", func(t *testing.T) Middleware { return NewTokenRealm(t, "alice", "s3cret").Middleware }, Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRemote(t, tt.mw(t))
			r.PushImage(t, "app", "1")
			tt.cfg.URL = r.URL
			c := newClient(t, tt.cfg)
			if _, _, err := c.Manifest(t.Context(), "app", oci.Reference{Tag: "1"}); !errors.Is(err, oci.ErrDenied) {
				t.Errorf("Manifest err = %v, want %v", err, oci.ErrDenied)
			}
		})
	}
}

func testLying(t *testing.T, newClient NewClient) {
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatalf("random image: %v", err)
	}
	addSpace := func(b []byte) []byte { return append(b, ' ') }
	tests := []struct {
		name string
		ref  oci.Reference
		mw   Middleware
		want error // nil: any error that is not "not found"
	}{
		{"body does not match the digest asked for", oci.Reference{Digest: Digest(t, img)}, first(RewriteManifests(100, addSpace, false)), oci.ErrDigestInvalid},
		{"body does not match Docker-Content-Digest", oci.Reference{Tag: "1"}, first(RewriteManifests(100, addSpace, false)), oci.ErrDigestInvalid},
		{"manifest of 5 MiB", oci.Reference{Tag: "1"}, first(RewriteManifests(100, func([]byte) []byte { return bytes.Repeat([]byte{' '}, 5<<20) }, false)), nil},
		{"body always cut off", oci.Reference{Tag: "1"}, first(RewriteManifests(100, nil, true)), oci.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRemote(t, tt.mw)
			r.Write(t, "app", "1", img)
			c := newClient(t, Config{URL: r.URL})

			_, _, err := c.Manifest(t.Context(), "app", tt.ref)
			if err == nil || errors.Is(err, oci.ErrManifestUnknown) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Manifest err = %v, want %v", err, tt.want)
			}
		})
	}
}

func first[A, B any](a A, _ B) A { return a }

// testTransient: a remote that fails once, then works, is retried.
func testTransient(t *testing.T, newClient NewClient) {
	tests := []struct {
		name string
		mw   Middleware
	}{
		{"503", first(FailFirst(1, http.StatusServiceUnavailable, "", IsManifest))},
		{"429 with Retry-After", first(FailFirst(1, http.StatusTooManyRequests, "1", IsManifest))},
		{"body cut off", first(RewriteManifests(1, nil, true))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRemote(t, tt.mw)
			img := r.PushImage(t, "app", "1")
			c := newClient(t, Config{URL: r.URL})

			_, desc, err := c.Manifest(t.Context(), "app", oci.Reference{Tag: "1"})
			if err != nil || desc.Digest != Digest(t, img) {
				t.Errorf("Manifest = %s, %v; want %s", desc.Digest, err, Digest(t, img))
			}
		})
	}
}

func testTokenPerScope(t *testing.T, newClient NewClient) {
	realm := NewTokenRealm(t, "alice", "s3cret")
	r := NewRemote(t, realm.Middleware)
	r.PushImage(t, "library/node", "20")
	r.PushImage(t, "org/app", "1")
	c := newClient(t, Config{URL: r.URL, Username: "alice", Password: "s3cret"})

	for _, pull := range []struct{ repo, tag string }{{"library/node", "20"}, {"org/app", "1"}, {"library/node", "20"}, {"org/app", "1"}, {"library/node", "20"}} {
		if _, _, err := c.Manifest(t.Context(), pull.repo, oci.Reference{Tag: pull.tag}); err != nil {
			t.Fatalf("Manifest %s: %v", pull.repo, err)
		}
	}
	for _, repo := range []string{"library/node", "org/app"} {
		if got := realm.Fetches(PullScope(repo)); got != 1 {
			t.Errorf("token fetches for %s = %d, want 1", repo, got)
		}
	}
}
