package firewall

import (
	"encoding/json"
	"strings"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

// manifestJSON is the part of a manifest the firewall reads.
type manifestJSON struct {
	MediaType string           `json:"mediaType"`
	Config    *oci.Descriptor  `json:"config"`
	Layers    []oci.Descriptor `json:"layers"`
	Manifests []oci.Descriptor `json:"manifests"`
}

// parseManifest reads what it can; a body that is not a manifest yields
// no config, which inspection reports as a failure.
func parseManifest(body []byte) manifestJSON {
	var m manifestJSON
	json.Unmarshal(body, &m)
	return m
}

// isIndex reports whether m, served as mediaType, lists other manifests
// and carries no filesystem of its own. The media type alone does not
// decide: it comes from the upstream, and an image labelled an index must
// not pass unjudged.
func (m manifestJSON) isIndex(mediaType string) bool {
	listed := m.Manifests != nil || oci.IsIndex(m.MediaType) || oci.IsIndex(mediaType)
	return listed && m.Config == nil && len(m.Layers) == 0
}

// isArtifact reports whether m is no runnable image: none of its layers
// is a tar archive, and its config is not an image config or it has
// layers (in-toto attestations have an image config and JSON layers; a
// mirror copying every manifest of an index must get them). A layer that
// is a tar makes it an image whatever its config says, so relabelling the
// config cannot smuggle a filesystem past inspection.
//
// TODO: an upstream can still list a malicious layer under a non-tar media
// type; the blob is then served in a repository where no withheld image
// owns it. No container runtime unpacks it from there, but a client
// fetching it by hand does; checking artifact blobs against known-bad
// digests would close that.
func (m manifestJSON) isArtifact() bool {
	if m.Config == nil {
		return false
	}
	for _, l := range m.Layers {
		if strings.Contains(l.MediaType, "tar") || l.MediaType == "" {
			return false
		}
	}
	return !isImageConfig(m.Config.MediaType) || len(m.Layers) > 0
}

func isImageConfig(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.config.v1+json" ||
		mediaType == "application/vnd.docker.container.image.v1+json"
}

// blobs lists the config and layers of m.
func (m manifestJSON) blobs() []digest.Digest {
	var ds []digest.Digest
	if m.Config != nil {
		ds = append(ds, m.Config.Digest)
	}
	for _, l := range m.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}
