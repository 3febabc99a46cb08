// Package upstream talks to one remote registry: the token and basic auth
// handshakes, a token cache per scope, retries with backoff, Retry-After on
// 429, timeouts, redirects to blob CDNs and the rate-limit headers the remote
// sends. It knows nothing of caching or policy.
package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

// Options configure a Client. The zero value of every field but URL works.
type Options struct {
	// Name is the upstream's name in breakwater's configuration ("docker.io").
	Name string
	// URL is the remote registry's base URL, such as https://registry-1.docker.io.
	URL string
	// Username and Password are the credentials for the token or basic
	// handshake; Password is typically a personal or organization access token.
	// Both empty means anonymous.
	Username string
	Password string
	// Timeout bounds each upstream request (default 30s). Blob bodies are
	// bounded by an idle timeout of the same length instead, so large layers
	// on slow links are not cut off.
	Timeout time.Duration
	// Retries is how many times a request is retried on connection errors,
	// 5xx and 429 (default 3; negative means none).
	Retries int
	// Transport is the underlying round tripper (default http.DefaultTransport clone).
	Transport http.RoundTripper
	// Logger receives warnings about retries; nil discards.
	Logger *slog.Logger
}

// RateLimit is what the remote last said about its pull quota, from the
// RateLimit-Limit and RateLimit-Remaining headers Docker Hub sends.
type RateLimit struct {
	Limit     int
	Remaining int
	// Known is false until a response carried the headers.
	Known     bool
	UpdatedAt time.Time
}

// Client is a client of one remote registry. It is safe for concurrent use.
type Client struct {
	opts Options
}

// New returns a Client. It makes no network call, so an unreachable upstream
// at start-up is not an error.
func New(opts Options) (*Client, error) {
	return &Client{opts: opts}, errors.New("upstream: not implemented")
}

// Name returns the configured name of the upstream.
func (c *Client) Name() string { return c.opts.Name }

// Manifest fetches the manifest of repo at ref (tag or digest) verbatim,
// accepting every manifest media type breakwater knows.
//
// Errors wrap oci sentinels: ErrManifestUnknown or ErrNameUnknown when the
// remote says it has no such thing, ErrTooManyRequests on a 429 that outlived
// the retries, ErrDenied when the remote refuses our credentials or access,
// ErrUnavailable on connection errors and 5xx, and ErrDigestInvalid when a
// by-digest response does not hash to the digest asked for.
func (c *Client) Manifest(ctx context.Context, repo string, ref oci.Reference) ([]byte, oci.Descriptor, error) {
	panic("not implemented")
}

// HeadManifest resolves ref to a descriptor with a HEAD request, which Docker
// Hub does not count against the pull quota.
func (c *Client) HeadManifest(ctx context.Context, repo string, ref oci.Reference) (oci.Descriptor, error) {
	panic("not implemented")
}

// Blob opens blob d of repo and returns its body and size. Redirects to
// other hosts are followed without our Authorization header. The body is
// returned as received: the caller verifies it against d.
func (c *Client) Blob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	panic("not implemented")
}

// Tags lists every tag of repo, following the remote's pagination.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	panic("not implemented")
}

// Referrers returns the remote's referrers index for d in repo, verbatim.
// A remote without the referrers API yields ErrManifestUnknown.
func (c *Client) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) ([]byte, error) {
	panic("not implemented")
}

// Search proxies Docker's V1 search (GET /v1/search?q=&n=&page=) to
// searchURL and returns the remote's JSON body verbatim.
func (c *Client) Search(ctx context.Context, searchURL string, query string) ([]byte, error) {
	panic("not implemented")
}

// Ping checks that the remote answers /v2/.
func (c *Client) Ping(ctx context.Context) error {
	panic("not implemented")
}

// RateLimit returns what the remote last said about the pull quota.
func (c *Client) RateLimit() RateLimit {
	panic("not implemented")
}
