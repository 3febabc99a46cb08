package harness

import (
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Format picks the media types of a generated image or index.
type Format string

const (
	// Docker is Docker schema 2: manifest, manifest list, config, gzip layers.
	Docker Format = "docker"
	// OCI is the OCI image spec: manifest, index, config, gzip layers.
	OCI Format = "oci"
)

// Common platforms.
var (
	LinuxAMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	LinuxARM64 = v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

// created is the fixed creation time of generated images, so only their
// layers differ between runs.
var created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// ImageSpec describes a generated image. The zero value is a one-layer
// Docker image of 1 KiB for linux/amd64.
type ImageSpec struct {
	Format Format
	// Layers is the number of random layers (default 1), each LayerSize
	// bytes of random file content (default 1024) in a valid gzip tar.
	Layers    int
	LayerSize int64
	// Platform defaults to LinuxAMD64.
	Platform *v1.Platform
}

// NewImage generates a random image that real clients can pull and unpack.
func NewImage(t testing.TB, spec ImageSpec) v1.Image {
	t.Helper()
	if spec.Layers == 0 {
		spec.Layers = 1
	}
	if spec.LayerSize == 0 {
		spec.LayerSize = 1024
	}
	platform := LinuxAMD64
	if spec.Platform != nil {
		platform = *spec.Platform
	}

	layerType := types.DockerLayer
	if spec.Format == OCI {
		layerType = types.OCILayer
	}
	layers := make([]v1.Layer, spec.Layers)
	for i := range layers {
		l, err := random.Layer(spec.LayerSize, layerType)
		if err != nil {
			t.Fatalf("generate layer: %v", err)
		}
		layers[i] = l
	}
	return Assemble(t, spec.Format, platform, []string{"/bin/sh"}, layers...)
}

// Assemble builds an image of the given format and platform from layers.
// The config carries the platform, cmd and the layers' diff IDs.
func Assemble(t testing.TB, format Format, platform v1.Platform, cmd []string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := empty.Image
	if format == OCI {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			Cmd: cmd,
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatalf("set image config: %v", err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatalf("append layers: %v", err)
	}
	return img
}

// NewIndex builds a multi-platform index (a manifest list for Docker) with
// one generated image per platform, in the order given.
func NewIndex(t testing.TB, format Format, platforms ...v1.Platform) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	if format == OCI {
		idx = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	}
	for _, p := range platforms {
		img := NewImage(t, ImageSpec{Format: format, Platform: &p})
		mt, err := img.MediaType()
		if err != nil {
			t.Fatalf("read image media type: %v", err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: mt, Platform: &p},
		})
	}
	return idx
}

// PlatformDigest returns the digest of the index entry for a platform
// (matching OS and architecture).
func PlatformDigest(t testing.TB, idx v1.ImageIndex, p v1.Platform) v1.Hash {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("read index manifest: %v", err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == p.OS && d.Platform.Architecture == p.Architecture {
			return d.Digest
		}
	}
	t.Fatalf("index has no entry for %s/%s", p.OS, p.Architecture)
	return v1.Hash{}
}

// Digest returns the manifest digest of an image or index.
func Digest(t testing.TB, x interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := x.Digest()
	if err != nil {
		t.Fatalf("compute digest: %v", err)
	}
	return h
}

// Push writes an image to ref ("host/repo:tag") and returns its digest.
func Push(t testing.TB, ref string, img v1.Image, opts ...remote.Option) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("parse %q: %v", ref, err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return Digest(t, img)
}

// PushIndex writes an index and all its images to ref and returns the
// index digest.
func PushIndex(t testing.TB, ref string, idx v1.ImageIndex, opts ...remote.Option) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("parse %q: %v", ref, err)
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
	return Digest(t, idx)
}

// Push writes an image to repo:tag on the upstream with its credentials.
func (u *Upstream) Push(t testing.TB, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	return Push(t, u.Ref(repo, tag), img, u.RemoteOptions()...)
}

// PushIndex writes an index to repo:tag on the upstream.
func (u *Upstream) PushIndex(t testing.TB, repo, tag string, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	return PushIndex(t, u.Ref(repo, tag), idx, u.RemoteOptions()...)
}

// Blobs lists the digests of an image's config and layers: what a client
// fetches from /blobs/ to pull it.
func Blobs(t testing.TB, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("read manifest: %v", err)
	}
	out := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}
