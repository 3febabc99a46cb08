//go:build e2e

package conformance

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/test/harness"
)

// Media types of the artifact that refers to the image. The suite's
// Accept header names only the OCI index and image manifest, so every
// manifest seeded here is one of those two.
const (
	sbomArtifactType = "application/vnd.example.sbom.v1"
	sbomLayerType    = "application/vnd.example.sbom.v1+json"
	emptyJSONType    = "application/vnd.oci.empty.v1+json"
)

// seedData is what seed put into the upstream, in the form the suite's
// OCI_RO_DATA_* variables take: tags, manifest digests, blob digests and
// the digests of subjects that have referrers.
type seedData struct {
	Tags      []string
	Manifests []string
	Blobs     []string
	Referrers []string

	// tagged maps each tag to its manifest digest; artifact is the
	// digest of the manifest that refers to the image.
	tagged   map[string]string
	artifact string
}

func (d *seedData) tag(tag string, h v1.Hash) {
	if d.tagged == nil {
		d.tagged = map[string]string{}
	}
	d.Tags = append(d.Tags, tag)
	d.tagged[tag] = h.String()
}

// seed pushes an OCI image, a two-platform OCI index and an artifact whose
// subject is the image into repo on the upstream. The artifact goes
// through ggcr's referrers tag fallback, so an upstream without the
// referrers API (distribution v3 has none) still records it under the
// sha256-<hex> tag that clients and proxies fall back to.
func seed(t *testing.T, u *harness.Upstream, repo string) seedData {
	t.Helper()
	var d seedData

	// An image with a config and two layers.
	img := harness.NewImage(t, harness.ImageSpec{Format: harness.OCI, Layers: 2})
	d.tag("v1", u.Push(t, repo, "v1", img))
	d.addImage(t, img)

	// An index of two platform images.
	idx := harness.NewIndex(t, harness.OCI, harness.LinuxAMD64, harness.LinuxARM64)
	d.tag("multi", u.PushIndex(t, repo, "multi", idx))
	d.Manifests = append(d.Manifests, harness.Digest(t, idx).String())
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("read index: %v", err)
	}
	for _, desc := range m.Manifests {
		child, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatalf("read index entry: %v", err)
		}
		d.addImage(t, child)
	}

	// An artifact that refers to the image.
	r, err := name.NewRepository(u.Host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatalf("parse seed repository: %v", err)
	}
	opts := append(u.RemoteOptions(), remote.WithReferrersTagFallback(true))
	subject, err := partial.Descriptor(img)
	if err != nil {
		t.Fatalf("describe image: %v", err)
	}
	art := sbomArtifact(t, r, subject, opts)
	if err := remote.Put(r.Tag("sbom"), art, opts...); err != nil {
		t.Fatalf("push artifact: %v", err)
	}
	d.tag("sbom", art.digest)

	// Breakwater can answer the referrers API only from this tag, as the
	// upstream has no such API: make sure it is there.
	fallback := r.Tag(strings.Replace(subject.Digest.String(), ":", "-", 1))
	if _, err := remote.Head(fallback, opts...); err != nil {
		t.Fatalf("find referrers fallback tag %s: %v", fallback.TagStr(), err)
	}
	d.Manifests = append(d.Manifests, art.digest.String())
	d.Blobs = append(d.Blobs, art.blobs...)
	d.Referrers = append(d.Referrers, subject.Digest.String())
	d.artifact = art.digest.String()
	return d
}

func (d *seedData) addImage(t *testing.T, img v1.Image) {
	t.Helper()
	d.Manifests = append(d.Manifests, harness.Digest(t, img).String())
	for _, h := range harness.Blobs(t, img) {
		d.Blobs = append(d.Blobs, h.String())
	}
}

// rawManifest is a manifest pushed as bytes, for shapes ggcr's image
// type does not produce (an artifact with an empty config).
type rawManifest struct {
	body   []byte
	digest v1.Hash
	blobs  []string
}

func (m rawManifest) RawManifest() ([]byte, error) { return m.body, nil }

func (m rawManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

// sbomArtifact pushes the blobs of an artifact manifest as the image-spec
// recommends it (artifactType, the empty config, one layer, a subject)
// and returns the manifest, not yet pushed.
func sbomArtifact(
	t *testing.T,
	r name.Repository,
	subject *v1.Descriptor,
	opts []remote.Option,
) rawManifest {
	t.Helper()
	cfg := static.NewLayer([]byte("{}"), emptyJSONType)
	doc := static.NewLayer([]byte(`{"packages":[]}`), sbomLayerType)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  sbomArtifactType,
		Subject:       subject,
	}
	var blobs []string
	for i, l := range []v1.Layer{cfg, doc} {
		if err := remote.WriteLayer(r, l, opts...); err != nil {
			t.Fatalf("push artifact blob: %v", err)
		}
		desc, err := partial.Descriptor(l)
		if err != nil {
			t.Fatalf("describe artifact blob: %v", err)
		}
		if i == 0 {
			m.Config = *desc
		} else {
			m.Layers = append(m.Layers, *desc)
		}
		blobs = append(blobs, desc.Digest.String())
	}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode artifact: %v", err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("hash artifact: %v", err)
	}
	return rawManifest{body: body, digest: h, blobs: blobs}
}
