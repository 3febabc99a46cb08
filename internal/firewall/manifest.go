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

// isArtifact reports whether m is no runnable image, and is served
// without inspection: none of its layers is a container layer, and either
// its config is not an image config or its layers are something else (an
// in-toto attestation has an image config and JSON layers; a mirror copying
// every manifest of an index must get it). A Helm chart's tar is no
// container layer. A container layer, or a tar under an image config,
// makes it an image whatever else it says, so relabelling the config
// cannot smuggle a filesystem past inspection.
//
// TODO: an upstream can still list a malicious layer under another media
// type; the blob is then served in a repository where no withheld image
// owns it. No container runtime unpacks it from there, but a client
// fetching it by hand does; checking artifact blobs against known-bad
// digests would close that.
func (m manifestJSON) isArtifact() bool {
	if m.Config == nil {
		return false
	}
	image := isImageConfig(m.Config.MediaType)
	for _, l := range m.Layers {
		if isContainerLayer(l.MediaType) || (image && strings.Contains(l.MediaType, "tar")) {
			return false
		}
	}
	return !image || len(m.Layers) > 0
}

// isContainerLayer reports whether a runtime unpacks layers of mediaType
// into a container's filesystem; containerd decides by the same prefixes.
// An empty media type counts, as a runtime guesses it is one.
func isContainerLayer(mediaType string) bool {
	return mediaType == "" ||
		strings.HasPrefix(mediaType, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mediaType, "application/vnd.docker.image.rootfs.")
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
