package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"breakwater/internal/oci"
)

// Page sizes. maxPage bounds what one request can make the store read;
// a client asking for more gets maxPage and a Link to the rest, which the
// spec allows. The catalog is paged even without n because a cache of a
// busy registry holds more names than one answer should carry.
const (
	maxPage         = 10000
	defaultCatalogN = 1000
)

type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

type catalogList struct {
	Repositories []string `json:"repositories"`
}

// tags lists the repository's tags, all of them after last unless n
// limits the page. The name is echoed as the client sent it.
func (h *Handler) tags(w http.ResponseWriter, r *http.Request, req *request) error {
	q := r.URL.Query()
	n, err := pageSize(q, -1)
	if err != nil {
		return err
	}
	last := q.Get("last")

	tags, more := []string{}, false
	if n != 0 {
		tags, more, err = page(n, func(limit int) ([]string, error) {
			return h.backend.Tags(r.Context(), req.repo, last, limit)
		})
		if err != nil {
			req.noteError(err)
			return err
		}
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/"+req.name+"/tags/list", n, tags[len(tags)-1], q.Get("ns")))
	}
	return writeJSON(w, r, tagList{Name: req.name, Tags: tags})
}

// catalog lists cached repositories by canonical name, which routes back
// to the same repository.
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	n, err := pageSize(q, defaultCatalogN)
	if err != nil {
		return err
	}
	last := q.Get("last")

	repos, more := []string{}, false
	if n != 0 {
		repos, more, err = page(n, func(limit int) ([]string, error) {
			return h.backend.Catalog(r.Context(), last, limit)
		})
		if err != nil {
			return err
		}
	}
	if more {
		w.Header().Set("Link", nextLink("/v2/_catalog", n, repos[len(repos)-1], ""))
	}
	return writeJSON(w, r, catalogList{Repositories: repos})
}

// pageSize reads n: def when absent (-1 meaning all), an error when it is
// not a non-negative integer, and at most maxPage.
func pageSize(q url.Values, def int) (int, error) {
	if !q.Has("n") {
		return def, nil
	}
	s := q.Get("n")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badRequest(fmt.Errorf("n=%q: %w", s, oci.ErrPaginationInvalid))
	}
	return min(n, maxPage), nil
}

// page fetches up to n entries (n < 0: all) through list, which takes a
// limit where 0 means all. Asking for one more than n tells whether
// another page follows without a second query.
func page(n int, list func(limit int) ([]string, error)) ([]string, bool, error) {
	limit := 0
	if n > 0 {
		limit = n + 1
	}
	got, err := list(limit)
	if err != nil {
		return nil, false, err
	}
	if got == nil {
		got = []string{}
	}
	if n > 0 && len(got) > n {
		return got[:n], true, nil
	}
	return got, false, nil
}

// nextLink is the RFC 5988 Link header to the page after last.
func nextLink(path string, n int, last, ns string) string {
	u := path + "?n=" + strconv.Itoa(n) + "&last=" + url.QueryEscape(last)
	if ns != "" {
		u += "&ns=" + url.QueryEscape(ns)
	}
	return "<" + u + `>; rel="next"`
}
