//go:build e2e

package e2e

import (
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/test/harness"
)

// artifact is a one-blob OCI artifact with the given config and layer
// media types.
func artifact(t *testing.T, configType, layerType string, body []byte) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.MediaType(configType))
	img, err := mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(body, types.MediaType(layerType))})
	if err != nil {
		t.Fatalf("make artifact: %v", err)
	}
	return img
}

// TestFirewallArtifacts pulls manifests that are no runnable image through
// a quarantine-mode breakwater with go-containerregistry's client: a
// cosign-style signature (an image config over a JSON layer) and a Helm
// chart (its own config over a chart tarball) are served without
// inspection, every blob intact, as signing and chart tools need.
func TestFirewallArtifacts(t *testing.T) {
	e := newFWEnv(t, "")
	cases := []struct {
		name string
		img  v1.Image
	}{
		{"signature", artifact(t, "application/vnd.oci.image.config.v1+json",
			"application/vnd.dev.cosign.simplesigning.v1+json",
			[]byte(`{"critical":{"identity":{"docker-reference":"example/app"},"type":"cosign container image signature"}}`))},
		{"helm chart", artifact(t, "application/vnd.cncf.helm.config.v1+json",
			"application/vnd.cncf.helm.chart.content.v1.tar+gzip",
			gzipped(t, rawTar(t, regEntry("mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 0.1.0\n"))))},
	}
	for i, c := range cases {
		e.up.Push(t, "acme/artifact", string(rune('a'+i)), c.img)
	}
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref, err := name.ParseReference(bw.Ref("acme/artifact", string(rune('a'+i))), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("get manifest: %v", err)
			}
			if d := harness.Digest(t, got); d != harness.Digest(t, c.img) {
				t.Errorf("manifest digest = %s, want %s", d, harness.Digest(t, c.img))
			}
			if _, err := got.RawConfigFile(); err != nil {
				t.Errorf("get config blob: %v", err)
			}
			layers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				rc, err := l.Compressed() // verifies the digest on read
				if err != nil {
					t.Fatalf("get blob: %v", err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					t.Errorf("read blob: %v", err)
				}
				rc.Close()
			}
		})
	}
}
