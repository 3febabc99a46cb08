package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

// Blob opens blob d of repo and returns its body and size (-1 when the
// remote does not say). Redirects to other hosts are followed without our
// Authorization header. The body is returned as received: the caller
// verifies it against d. Retries happen only until the body is returned;
// a body that breaks off later fails its Read with an error wrapping
// oci.ErrUnavailable, and the caller decides whether to ask again.
func (c *Client) Blob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	var (
		body io.ReadCloser
		size int64
	)
	u := c.endpoint("/v2/" + repo + "/blobs/" + d.String())
	err := c.retry(withScope(ctx, pullScope(repo)), http.MethodGet, u, func(ctx context.Context) error {
		resp, err := c.send(ctx, http.MethodGet, u, nil, true)
		if err != nil {
			return err
		}
		if err := c.check(resp, oci.ErrBlobUnknown); err != nil {
			return err
		}
		body, size = resp.Body, resp.ContentLength
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("fetch blob %s@%s from %s: %w", repo, d, c.name, err)
	}
	return body, size, nil
}
