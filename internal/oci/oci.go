// Package oci holds the value types every part of breakwater shares: repository
// names, references, descriptors, media types and the closed set of errors the
// OCI Distribution Spec defines. It imports nothing of breakwater's own, so any
// package may depend on it.
package oci

import (
	"github.com/opencontainers/go-digest"
)

// Media types breakwater negotiates and stores. Manifests are kept verbatim, so
// these only steer Accept handling and the Content-Type written back.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
)

// ManifestMediaTypes lists every manifest type breakwater asks upstreams for,
// index types first so multi-platform images are fetched whole.
var ManifestMediaTypes = []string{
	MediaTypeOCIIndex,
	MediaTypeDockerManifestList,
	MediaTypeOCIManifest,
	MediaTypeDockerManifest,
}

// IsIndex reports whether mediaType names a multi-platform index.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerManifestList
}

// Descriptor names content by digest, size and media type.
type Descriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
}
