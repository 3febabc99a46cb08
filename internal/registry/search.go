package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"breakwater/internal/oci"
)

// search proxies Docker's V1 search to the configured index. Only q, n and
// page are passed on, re-encoded, so a client cannot smuggle other
// parameters into the upstream request.
func (h *Handler) search(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Search == nil {
		return errNoRoute
	}
	in := r.URL.Query()
	out := url.Values{"q": {in.Get("q")}}
	for _, key := range []string{"n", "page"} {
		if !in.Has(key) {
			continue
		}
		v := in.Get(key)
		if n, err := strconv.Atoi(v); err != nil || n < 0 {
			return badRequest(fmt.Errorf("%s=%q: %w", key, v, oci.ErrPaginationInvalid))
		}
		out.Set(key, v)
	}

	body, err := h.opts.Search.Search(r.Context(), h.opts.SearchURL, out.Encode())
	if err != nil {
		return err
	}
	return writeBody(w, r, "application/json", body)
}
