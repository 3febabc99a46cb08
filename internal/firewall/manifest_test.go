package firewall

import (
	"testing"

	"breakwater/internal/oci"
)

// TestManifestKinds pins which manifests pass as indexes, which are
// served as artifacts without inspection, and which are inspected as
// images: the predicates that decide what the firewall looks at.
func TestManifestKinds(t *testing.T) {
	const (
		imageConfig  = `"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":1}`
		dockerConfig = `"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:aa","size":1}`
		sigConfig    = `"config":{"mediaType":"application/vnd.dev.cosign.artifact.sig.v1+json","digest":"sha256:aa","size":1}`
		helmConfig   = `"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:aa","size":1}`
		ociLayer     = `"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:bb","size":1}]`
		dockerLayer  = `"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:bb","size":1}]`
		noTypeLayer  = `"layers":[{"digest":"sha256:bb","size":1}]`
		jsonLayer    = `"layers":[{"mediaType":"application/vnd.in-toto+json","digest":"sha256:bb","size":1}]`
		helmLayer    = `"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"sha256:bb","size":1}]`
		oddTarLayer  = `"layers":[{"mediaType":"application/x-tar","digest":"sha256:bb","size":1}]`
	)
	tests := []struct {
		name      string
		mediaType string // as the upstream labelled it
		body      string
		index     bool
		artifact  bool
	}{
		{"oci index", oci.MediaTypeOCIIndex, `{"manifests":[]}`, true, false},
		{"docker list", oci.MediaTypeDockerManifestList, `{"manifests":[{"digest":"sha256:cc"}]}`, true, false},
		{"index by body alone", oci.MediaTypeOCIManifest, `{"manifests":[]}`, true, false},
		{"oci image", oci.MediaTypeOCIManifest, `{` + imageConfig + `,` + ociLayer + `}`, false, false},
		{"docker image", oci.MediaTypeDockerManifest, `{` + dockerConfig + `,` + dockerLayer + `}`, false, false},
		{"image without layers", oci.MediaTypeOCIManifest, `{` + imageConfig + `}`, false, false},
		{"image labelled an index", oci.MediaTypeOCIIndex, `{` + imageConfig + `,` + ociLayer + `}`, false, false},
		{"layers only, labelled an index", oci.MediaTypeOCIIndex, `{` + ociLayer + `}`, false, false},
		{"signature", oci.MediaTypeOCIManifest, `{` + sigConfig + `,` + jsonLayer + `}`, false, true},
		{"attestation", oci.MediaTypeOCIManifest, `{` + imageConfig + `,` + jsonLayer + `}`, false, true},
		{"helm chart", oci.MediaTypeOCIManifest, `{` + helmConfig + `,` + helmLayer + `}`, false, true},
		{"container layer behind an artifact config", oci.MediaTypeOCIManifest, `{` + sigConfig + `,` + ociLayer + `}`, false, false},
		{"untyped layer behind an artifact config", oci.MediaTypeOCIManifest, `{` + sigConfig + `,` + noTypeLayer + `}`, false, false},
		{"odd tar under an image config", oci.MediaTypeOCIManifest, `{` + imageConfig + `,` + oddTarLayer + `}`, false, false},
		{"no config (schema 1)", "application/vnd.docker.distribution.manifest.v1+prettyjws", `{"fsLayers":[]}`, false, false},
		{"not json", oci.MediaTypeOCIManifest, `not json`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseManifest([]byte(tt.body))
			if got := p.isIndex(tt.mediaType); got != tt.index {
				t.Errorf("isIndex = %v, want %v", got, tt.index)
			}
			if got := p.isArtifact(); got != tt.artifact {
				t.Errorf("isArtifact = %v, want %v", got, tt.artifact)
			}
		})
	}
}
