package registry

import (
	"fmt"
	"strings"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// endpoint is the kind of thing a request path names.
type endpoint int

const (
	endpointUnknown endpoint = iota
	endpointBase
	endpointCatalog
	endpointManifest
	endpointBlob
	endpointTags
	endpointReferrers
	endpointSearch
	// endpointUpload is the push side, named only to refuse it with 405.
	endpointUpload
)

// request is a parsed request and what serving it found out, for the
// request log. Handlers fill repo and cache as they learn them.
type request struct {
	kind endpoint
	// name is the repository name as the client sent it.
	name string
	// ref is the manifest reference or digest as the client sent it.
	ref   string
	repo  cache.Repo
	cache string // hit, miss, stale or empty
	id    string
}

// Cache outcomes for the request log.
const (
	cacheHit   = "hit"
	cacheMiss  = "miss"
	cacheStale = "stale"
)

// noteCache records how the cache answered.
func (req *request) noteCache(hit, stale bool) {
	switch {
	case stale:
		req.cache = cacheStale
	case hit:
		req.cache = cacheHit
	default:
		req.cache = cacheMiss
	}
}

// parsePath sorts an escaped request path into an endpoint with its name
// and reference. It works on the escaped form so an encoded slash can never
// pass for a separator. The name is everything between /v2/ and the last
// /manifests/, /blobs/, /referrers/ or /tags/list: a reference holds no
// slash, so looking at the last two segments finds exactly that. Names are
// not validated here; see validateName.
func parsePath(p string) request {
	switch p {
	case "/v2", "/v2/":
		return request{kind: endpointBase}
	case "/v2/_catalog":
		return request{kind: endpointCatalog}
	case "/v1/search":
		return request{kind: endpointSearch}
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return request{}
	}

	segs := strings.Split(rest, "/")
	n := len(segs)
	if n < 3 {
		return request{}
	}
	name := strings.Join(segs[:n-2], "/")
	kind, ref := segs[n-2], segs[n-1]
	switch {
	case kind == "tags" && ref == "list":
		return request{kind: endpointTags, name: name}
	case kind == "manifests":
		return request{kind: endpointManifest, name: name, ref: ref}
	case kind == "blobs":
		return request{kind: endpointBlob, name: name, ref: ref}
	case kind == "referrers":
		return request{kind: endpointReferrers, name: name, ref: ref}
	case kind == "uploads" && n >= 4 && segs[n-3] == "blobs":
		return request{kind: endpointUpload, name: strings.Join(segs[:n-3], "/")}
	}
	return request{}
}

// validateName refuses names that must never reach the cache, the store or
// an upstream URL. The explicit checks only give clearer details: the
// spec's grammar in oci.ValidateName already refuses all of them.
func validateName(name string) error {
	if strings.Contains(name, "%") {
		return badRequest(fmt.Errorf("repository name %q is percent-encoded: %w", name, oci.ErrNameInvalid))
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "." || seg == ".." {
			return badRequest(fmt.Errorf("repository name %q has a dot segment: %w", name, oci.ErrNameInvalid))
		}
	}
	if err := oci.ValidateName(name); err != nil {
		return badRequest(err)
	}
	return nil
}
