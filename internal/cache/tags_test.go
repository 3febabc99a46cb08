package cache

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

func TestTags(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	img := randomImage(t, 256, 1)
	for _, tag := range []string{"v2", "a", "v1", "latest"} {
		e.push(tag, img)
	}
	// Only v1 and v2 are pulled, so only they are cached.
	for _, tag := range []string{"v1", "v2"} {
		if _, err := e.cache.Manifest(ctx, e.repo, tagRef(tag)); err != nil {
			t.Fatalf("Manifest %s: %v", tag, err)
		}
	}
	unavailable := func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}

	tests := []struct {
		name      string
		intercept func(http.ResponseWriter, *http.Request) bool
		last      string
		n         int
		want      []string
		wantErr   error
	}{
		{name: "all", want: []string{"a", "latest", "v1", "v2"}},
		{name: "first page", n: 2, want: []string{"a", "latest"}},
		{name: "after last", last: "latest", n: 1, want: []string{"v1"}},
		{name: "after a tag that is not there", last: "b", want: []string{"latest", "v1", "v2"}},
		{name: "past the end", last: "v2", want: []string{}},
		{name: "cached when the upstream fails", intercept: unavailable, want: []string{"v1", "v2"}},
		{name: "cached page", intercept: unavailable, last: "v1", n: 5, want: []string{"v2"}},
		{name: "repository gone", intercept: notFound("NAME_UNKNOWN"), wantErr: oci.ErrNameUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.setIntercept(tt.intercept)
			defer e.setIntercept(nil)
			got, err := e.cache.Tags(ctx, e.repo, tt.last, tt.n)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Tags: got %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Tags: %v", err)
			}
			if diff := cmp.Diff(got, tt.want, cmp.Comparer(func(a, b []string) bool {
				return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
			})); diff != "" {
				t.Errorf("Tags(%q, %d) (-got +want):\n%s", tt.last, tt.n, diff)
			}
		})
	}
}

func TestTagsUncachedUpstreamDown(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	e.srv.Close()
	if got, err := e.cache.Tags(ctx, e.repo, "", 0); !errors.Is(err, oci.ErrUnavailable) {
		t.Errorf("Tags of an uncached repository, upstream down: got %v, %v; want %v", got, err, oci.ErrUnavailable)
	}
}

// pushReferrer pushes an artifact of artifactType whose subject is the
// image at tag v1, and returns the subject's and the artifact's digests.
func pushReferrer(e *env, artifactType string) (subject, referrer digest.Digest) {
	e.t.Helper()
	img := randomImage(e.t, 256, 1)
	e.push("v1", img)
	mt, err := img.MediaType()
	if err != nil {
		e.t.Fatal(err)
	}
	size, err := img.Size()
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		e.t.Fatal(err)
	}
	art := mutate.MediaType(randomImage(e.t, 64, 1), types.OCIManifestSchema1)
	art = mutate.ConfigMediaType(art, types.MediaType(artifactType))
	art = mutate.Subject(art, v1.Descriptor{MediaType: mt, Size: size, Digest: h}).(v1.Image)
	if err := remote.Write(e.ref(e.repo.Path, "sig"), art); err != nil {
		e.t.Fatalf("push referrer: %v", err)
	}
	e.resetCounts()
	return digest.Digest(h.String()), hashDigest(e.t, art.Digest)
}

func TestReferrers(t *testing.T) {
	const sigType = "application/vnd.example.sig.v1+json"
	tests := []struct {
		name         string
		api          bool
		intercept    func(http.ResponseWriter, *http.Request) bool
		artifactType string
		// cold skips pulling the artifact first, so only the upstream's
		// referrers tag (which ggcr writes when the registry has no
		// referrers API) can name it.
		cold bool
		want []digest.Digest // nil: the upstream's answer verbatim
	}{
		{name: "upstream answers", api: true},
		{name: "no referrers API", want: []digest.Digest{"referrer"}},
		{name: "no referrers API, filtered", artifactType: sigType, want: []digest.Digest{"referrer"}},
		{name: "no referrers API, filtered out", artifactType: "application/other", want: []digest.Digest{}},
		{name: "no referrers API, cold, from the referrers tag", cold: true, want: []digest.Digest{"referrer"}},
		{name: "no referrers API, cold, filtered out", cold: true, artifactType: "application/other", want: []digest.Digest{}},
		{name: "upstream fails", api: true, want: []digest.Digest{"referrer"}, intercept: func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []envOption
			if tt.api {
				opts = append(opts, withReferrersAPI())
			}
			e := newEnv(t, opts...)
			ctx := testContext(t)
			subject, referrer := pushReferrer(e, sigType)
			// Pulling the artifact teaches the cache its subject.
			if !tt.cold {
				if _, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: referrer}); err != nil {
					t.Fatalf("Manifest of the referrer: %v", err)
				}
			}
			e.setIntercept(tt.intercept)

			body, err := e.cache.Referrers(ctx, e.repo, subject, tt.artifactType)
			if err != nil {
				t.Fatalf("Referrers: %v", err)
			}
			if got := e.count("GET", "referrers"); got != 1 {
				t.Errorf("upstream referrers GETs: got %d, want 1", got)
			}
			var idx struct {
				MediaType string `json:"mediaType"`
				Manifests []struct {
					Digest       digest.Digest `json:"digest"`
					ArtifactType string        `json:"artifactType"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal(body, &idx); err != nil {
				t.Fatalf("decode index %s: %v", body, err)
			}
			if idx.MediaType != oci.MediaTypeOCIIndex || idx.Manifests == nil {
				t.Errorf("index: got %s, want an OCI index with a manifests list", body)
			}
			got := []digest.Digest{}
			for _, m := range idx.Manifests {
				got = append(got, m.Digest)
				if m.ArtifactType != sigType {
					t.Errorf("artifactType of %s: got %q, want %q", m.Digest, m.ArtifactType, sigType)
				}
			}
			want := tt.want
			if want == nil {
				want = []digest.Digest{referrer}
			}
			for i := range want {
				if want[i] == "referrer" {
					want[i] = referrer
				}
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("referrers (-got +want):\n%s", diff)
			}
		})
	}
}
