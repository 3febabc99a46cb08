package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

const (
	// maxReferrers bounds a referrers index; like a manifest it is JSON
	// the spec expects to stay small.
	maxReferrers = MaxManifestSize
	// maxSearch bounds a V1 search answer (Docker Hub's are a few KiB).
	maxSearch = 1 << 20
)

// Referrers returns the remote's referrers index for d in repo, verbatim.
// A remote without the referrers API yields ErrManifestUnknown.
//
// TODO: only the first page of a paginated referrers answer (Link
// rel="next") is returned, so artifacts beyond it are not listed.
func (c *Client) Referrers(
	ctx context.Context,
	repo string,
	d digest.Digest,
	artifactType string,
) ([]byte, error) {
	u := c.endpoint("/v2/" + repo + "/referrers/" + d.String())
	if artifactType != "" {
		u += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	ans, err := c.fetch(withScope(ctx, pullScope(repo)), request{
		method:   http.MethodGet,
		url:      u,
		header:   http.Header{"Accept": {oci.MediaTypeOCIIndex}},
		notFound: oci.ErrManifestUnknown,
		limit:    maxReferrers,
	})
	if err != nil {
		return nil, fmt.Errorf("fetch referrers of %s@%s from %s: %w", repo, d, c.name, err)
	}
	return ans.body, nil
}

// Search proxies Docker's V1 search (GET /v1/search?q=&n=&page=) to
// searchURL, the index's base URL (https://index.docker.io), and returns
// the remote's JSON body verbatim. The query is
// re-encoded so that nothing but query parameters reaches the remote. No
// credentials are sent unless searchURL is the registry's own origin.
func (c *Client) Search(ctx context.Context, searchURL string, query string) ([]byte, error) {
	base, err := url.Parse(searchURL)
	if err != nil || !isHTTP(base) {
		return nil, fmt.Errorf("search %s: search URL %q is not an http(s) URL: %w", c.name, searchURL, oci.ErrUnsupported)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("search %s: parse query: %w", c.name, err)
	}
	// searchURL is the index's base URL; one that already names the
	// endpoint is taken as it is.
	if !strings.HasSuffix(strings.TrimRight(base.Path, "/"), "/v1/search") {
		base = base.JoinPath("/v1/search")
	}
	base.RawQuery = q.Encode()

	ans, err := c.fetch(ctx, request{
		method:   http.MethodGet,
		url:      base.String(),
		notFound: oci.ErrUnsupported,
		limit:    maxSearch,
	})
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", c.name, err)
	}
	return ans.body, nil
}
