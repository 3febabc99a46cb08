package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

// MaxManifestSize bounds a manifest read from the remote. Distribution
// refuses to store manifests above 4 MiB, so no real one is bigger.
const MaxManifestSize = 4 << 20

// Manifest fetches the manifest of repo at ref (tag or digest) verbatim,
// accepting every manifest media type breakwater knows.
//
// Errors wrap oci sentinels: ErrManifestUnknown or ErrNameUnknown when the
// remote says it has no such thing, ErrTooManyRequests on a 429 that outlived
// the retries, ErrDenied when the remote refuses our credentials or access,
// ErrUnavailable on connection errors and 5xx, and ErrDigestInvalid when a
// by-digest response does not hash to the digest asked for.
func (c *Client) Manifest(
	ctx context.Context,
	repo string,
	ref oci.Reference,
) ([]byte, oci.Descriptor, error) {
	ans, err := c.fetch(withScope(ctx, pullScope(repo)), c.manifestRequest(http.MethodGet, repo, ref))
	if err != nil {
		return nil, oci.Descriptor{}, fmt.Errorf("fetch manifest %s from %s: %w", refString(repo, ref), c.name, err)
	}

	desc := oci.Descriptor{
		MediaType: mediaType(ans.header.Get("Content-Type"), ans.body),
		Digest:    digest.SHA256.FromBytes(ans.body),
		Size:      int64(len(ans.body)),
	}
	if err := verifyManifest(ans, ref, desc.Digest); err != nil {
		return nil, oci.Descriptor{}, fmt.Errorf("fetch manifest %s from %s: %w", refString(repo, ref), c.name, err)
	}
	return ans.body, desc, nil
}

// verifyManifest checks the bytes against the digest asked for, or for a
// tag against the digest the remote claims in Docker-Content-Digest.
func verifyManifest(ans *answer, ref oci.Reference, got digest.Digest) error {
	if ref.IsDigest() {
		if got != ref.Digest {
			return fmt.Errorf("body hashes to %s: %w", got, oci.ErrDigestInvalid)
		}
		return nil
	}
	claimed, err := digest.Parse(ans.header.Get("Docker-Content-Digest"))
	if err != nil {
		// Absent or malformed: nothing to hold the body to.
		return nil
	}
	if claimed.Algorithm() != digest.SHA256 {
		if !claimed.Algorithm().Available() || claimed.Algorithm().FromBytes(ans.body) == claimed {
			return nil
		}
	} else if claimed == got {
		return nil
	}
	return fmt.Errorf("body hashes to %s, remote claims %s: %w", got, claimed, oci.ErrDigestInvalid)
}

// HeadManifest resolves ref to a descriptor with a HEAD request, which Docker
// Hub does not count against the pull quota. A remote that leaves out the
// digest or the size on HEAD costs a GET instead.
func (c *Client) HeadManifest(
	ctx context.Context,
	repo string,
	ref oci.Reference,
) (oci.Descriptor, error) {
	ans, err := c.fetch(withScope(ctx, pullScope(repo)), c.manifestRequest(http.MethodHead, repo, ref))
	if err != nil {
		return oci.Descriptor{}, fmt.Errorf("resolve manifest %s on %s: %w", refString(repo, ref), c.name, err)
	}

	d, derr := digest.Parse(ans.header.Get("Docker-Content-Digest"))
	if derr != nil && ref.IsDigest() {
		d, derr = ref.Digest, nil
	}
	if derr != nil || ans.length < 0 {
		_, desc, err := c.Manifest(ctx, repo, ref)
		return desc, err
	}
	if ref.IsDigest() && d != ref.Digest {
		return oci.Descriptor{}, fmt.Errorf("resolve manifest %s on %s: remote claims %s: %w",
			refString(repo, ref), c.name, d, oci.ErrDigestInvalid)
	}
	return oci.Descriptor{
		MediaType: mediaType(ans.header.Get("Content-Type"), nil),
		Digest:    d,
		Size:      ans.length,
	}, nil
}

// manifestRequest asks for ref in repo, accepting every manifest type.
func (c *Client) manifestRequest(method, repo string, ref oci.Reference) request {
	return request{
		method:   method,
		url:      c.endpoint("/v2/" + repo + "/manifests/" + ref.String()),
		header:   http.Header{"Accept": {strings.Join(oci.ManifestMediaTypes, ", ")}},
		notFound: oci.ErrManifestUnknown,
		limit:    MaxManifestSize,
	}
}

// mediaType takes the media type from Content-Type, unless that is missing
// or generic, in which case the body's own mediaType field decides.
func mediaType(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "", "application/json", "application/octet-stream", "text/plain":
	default:
		return mt
	}
	var m struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(body, &m) == nil && m.MediaType != "" {
		return m.MediaType
	}
	return mt
}

// refString formats repo and ref as a pull would: name:tag or name@digest.
func refString(repo string, ref oci.Reference) string {
	if ref.IsDigest() {
		return repo + "@" + ref.String()
	}
	return repo + ":" + ref.String()
}
