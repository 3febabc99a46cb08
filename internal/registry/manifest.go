package registry

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// manifest serves GET and HEAD of a manifest with the same headers.
func (h *Handler) manifest(w http.ResponseWriter, r *http.Request, req *request) error {
	ref, err := oci.ParseReference(req.ref)
	if err != nil {
		return badRequest(err)
	}
	m, err := h.backend.Manifest(r.Context(), req.repo, ref)
	if err != nil {
		req.noteError(err)
		return err
	}
	req.noteCache(m.Hit, m.Stale)

	m, err = h.negotiate(r, req.repo, m)
	if err != nil {
		return err
	}
	if g := h.opts.Gate; g != nil {
		if err := g.Manifest(r.Context(), req.repo, ref, m); err != nil {
			h.pulled(r, req.repo, ref, m, err)
			return gateError(w, err)
		}
	}
	defer h.pulled(r, req.repo, ref, m, nil)

	if notModified(r, m.Digest) {
		return writeNotModified(w, m.Digest)
	}
	hd := w.Header()
	hd.Set("Docker-Content-Digest", m.Digest.String())
	hd.Set("ETag", etag(m.Digest))
	return writeBody(w, r, m.MediaType, m.Body)
}

// pulled tells Options.Pulls of an answered manifest GET.
func (h *Handler) pulled(r *http.Request, repo cache.Repo, ref oci.Reference, m *cache.Manifest, err error) {
	if h.opts.Pulls != nil && r.Method == http.MethodGet {
		h.opts.Pulls.Pulled(r.Context(), repo, ref, m, err)
	}
}

// negotiate picks what to answer a client whose Accept header may not
// admit the stored media type. Bytes are never converted, since that would
// change the digest; like distribution, breakwater serves the stored
// manifest anyway, with one exception: a client that takes single
// manifests but not the stored index gets the index's linux/amd64 entry,
// which is what a client from before manifest lists expects to run.
func (h *Handler) negotiate(r *http.Request, repo cache.Repo, m *cache.Manifest) (*cache.Manifest, error) {
	accept := acceptedTypes(r.Header.Values("Accept"))
	if admits(accept, m.MediaType) || !oci.IsIndex(m.MediaType) {
		return m, nil
	}
	if !admits(accept, oci.MediaTypeDockerManifest) && !admits(accept, oci.MediaTypeOCIManifest) {
		return m, nil
	}
	d, ok := platformEntry(m.Body, "linux", "amd64")
	if !ok {
		return m, nil
	}
	child, err := h.backend.Manifest(r.Context(), repo, oci.Reference{Digest: d})
	if err != nil {
		return nil, fmt.Errorf("fetch linux/amd64 entry %s of index %s: %w", d, m.Digest, err)
	}
	return child, nil
}

// acceptedTypes lists the media types in Accept header values, leaving out
// those with q=0, which the client refuses. No header means anything goes.
func acceptedTypes(values []string) []string {
	var types []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q <= 0 {
				continue
			}
			types = append(types, mt)
		}
	}
	return types
}

// admits reports whether a client accepting types takes mediaType.
func admits(types []string, mediaType string) bool {
	if len(types) == 0 {
		return true
	}
	major, _, _ := strings.Cut(mediaType, "/")
	for _, t := range types {
		if t == mediaType || t == "*/*" || t == major+"/*" {
			return true
		}
	}
	return false
}

// platformEntry returns the digest of index's entry for os/arch.
func platformEntry(index []byte, os, arch string) (digest.Digest, bool) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(index))
	if err != nil {
		return "", false
	}
	for _, desc := range im.Manifests {
		p := desc.Platform
		if p == nil || p.OS != os || p.Architecture != arch {
			continue
		}
		d, err := oci.ParseDigest(desc.Digest.String())
		if err != nil {
			return "", false
		}
		return d, true
	}
	return "", false
}

// etag quotes a digest as an entity tag; content addressing makes it strong.
func etag(d digest.Digest) string { return `"` + d.String() + `"` }

// notModified reports whether the request's If-None-Match names d's
// entity tag or is "*": the client holds these bytes already and gets a
// 304 (RFC 9110, section 13.1.2). The comparison is weak, as that section
// requires, and a bare digest is taken too, as distribution takes it.
func notModified(r *http.Request, d digest.Digest) bool {
	tag := etag(d)
	for _, v := range r.Header.Values("If-None-Match") {
		for part := range strings.SplitSeq(v, ",") {
			t := strings.TrimPrefix(strings.TrimSpace(part), "W/")
			if t == "*" || t == tag || t == d.String() {
				return true
			}
		}
	}
	return false
}

// writeNotModified answers a 304 with the headers that name d and no body.
func writeNotModified(w http.ResponseWriter, d digest.Digest) error {
	hd := w.Header()
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("ETag", etag(d))
	w.WriteHeader(http.StatusNotModified)
	return nil
}
