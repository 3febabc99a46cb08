package registry

import (
	"net/http"

	"breakwater/internal/oci"
)

// referrers serves the index of manifests whose subject is the digest,
// filtered by artifactType when the client asks.
func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, req *request) error {
	d, err := oci.ParseDigest(req.ref)
	if err != nil {
		return badRequest(err)
	}
	artifactType := r.URL.Query().Get("artifactType")
	body, err := h.backend.Referrers(r.Context(), req.repo, d, artifactType)
	if err != nil {
		return err
	}

	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeBody(w, r, oci.MediaTypeOCIIndex, body)
}
