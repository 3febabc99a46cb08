// Package upstream talks to one remote registry: the token and basic auth
// handshakes, a token cache per scope, retries with backoff, Retry-After on
// 429, timeouts, redirects to blob CDNs and the rate-limit headers the remote
// sends. It knows nothing of caching or policy.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

const (
	defaultTimeout = 30 * time.Second
	defaultRetries = 3
	// maxRedirects bounds a redirect chain (a blob CDN needs one or two).
	maxRedirects = 10
	userAgent    = "breakwater"
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
	// Logger receives warnings about retries, with the upstream's name
	// added; nil discards.
	Logger *slog.Logger
	// Metrics counts and times every request sent (each attempt); nil
	// counts nothing.
	Metrics *telemetry.Metrics
}

// RateLimit is what the remote last said about its pull quota, from the
// RateLimit-Limit and RateLimit-Remaining headers Docker Hub sends.
type RateLimit struct {
	Limit     int
	Remaining int
	// Window is the period the limit applies to ("w=21600"), 0 if not sent.
	Window time.Duration
	// Known is false until a response carried the headers.
	Known     bool
	UpdatedAt time.Time
	// ResetAt is when the remote said, with the Retry-After of its last
	// 429, that it takes requests again; zero if it never refused one.
	ResetAt time.Time
}

// Client is a client of one remote registry, made by New (the zero value
// is not usable). It is safe for concurrent use.
type Client struct {
	name    string
	base    *url.URL
	http    *http.Client
	auth    *authTransport
	rate    *rateRecorder
	log     *slog.Logger
	metrics *telemetry.Metrics
	failure failureRecorder
	timeout time.Duration
	retries int

	// received counts the body bytes read from the remote's answers.
	received telemetry.ByteCounter

	// Seams for tests: the first retry's backoff, the wait between
	// attempts and the clock.
	backoff time.Duration
	sleep   func(context.Context, time.Duration) error
	now     func() time.Time
}

// New returns a Client. It makes no network call, so an unreachable upstream
// at start-up is not an error.
func New(opts Options) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(opts.URL, "/"))
	if err != nil || !isHTTP(base) {
		return nil, fmt.Errorf("upstream URL %q is not an http(s) URL", opts.URL)
	}
	c := &Client{
		name:    opts.Name,
		base:    base,
		rate:    &rateRecorder{},
		log:     opts.Logger,
		metrics: opts.Metrics,
		timeout: opts.Timeout,
		retries: opts.Retries,
		backoff: defaultBackoff,
		sleep:   sleep,
		now:     time.Now,
	}
	if c.name == "" {
		c.name = base.Host
	}
	c.received = c.metrics.UpstreamReceived(c.name)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With(telemetry.KeyUpstream, c.name)
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	switch {
	case opts.Retries == 0:
		c.retries = defaultRetries
	case opts.Retries < 0:
		c.retries = 0
	}
	transport := opts.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	c.auth = &authTransport{
		base:     transport,
		registry: base,
		username: opts.Username,
		password: opts.Password,
		timeout:  c.timeout,
		rate:     c.rate,
		now:      func() time.Time { return c.now() },
		tokens:   map[string]cachedToken{},
	}
	c.http = &http.Client{Transport: c.auth, CheckRedirect: checkRedirect}
	return c, nil
}

// checkRedirect bounds redirect chains and refuses a downgrade from https
// to http. Credentials need no care here: authTransport adds them only
// for the registry's own origin.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("refused redirect from https to http")
	}
	return nil
}

// isHTTP reports whether u is an absolute http or https URL.
func isHTTP(u *url.URL) bool {
	return u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")
}

// Name returns the configured name of the upstream.
func (c *Client) Name() string { return c.name }

// RateLimit returns what the remote last said about the pull quota.
func (c *Client) RateLimit() RateLimit { return c.rate.get() }

// URL returns the remote's base URL.
func (c *Client) URL() string { return c.base.String() }

// LastError returns the last request that failed for good (its retries
// spent) for a reason other than the remote's authoritative not-found or
// the caller giving up, and when; "" and the zero time if none has. The
// message carries no credentials and no pre-signed URL.
func (c *Client) LastError() (string, time.Time) { return c.failure.get() }

// LastAnswer returns when the remote last answered a request usefully (a
// not-found counts), the zero time if never: with LastError it tells an
// upstream that is failing now from one that failed once.
func (c *Client) LastAnswer() time.Time { return c.failure.lastAnswer() }

// endpoint returns the URL of path on the remote, path starting with "/".
func (c *Client) endpoint(path string) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u.String()
}

// answer is a complete, bounded answer from the remote.
type answer struct {
	body   []byte
	header http.Header
	length int64    // Content-Length, -1 if unknown; what HEAD reports
	url    *url.URL // after redirects, to resolve relative links
}

// request is one GET or HEAD whose answer is read whole.
type request struct {
	method   string
	url      string
	header   http.Header
	notFound *oci.Error // the kind of a 404 whose body names none
	limit    int64      // the most body bytes accepted
}

// fetch sends r and reads the body, at most r.limit bytes. The attempt is
// retried as a whole, including a body cut off half way, since nothing
// reaches the caller before the body is complete.
func (c *Client) fetch(ctx context.Context, r request) (*answer, error) {
	var ans *answer
	err := c.retry(ctx, r.method, r.url, func(ctx context.Context) error {
		resp, err := c.send(ctx, r.method, r.url, r.header, false)
		if err != nil {
			return err
		}
		if err := c.check(resp, r.notFound); err != nil {
			return err
		}
		defer resp.Body.Close()

		if r.method != http.MethodHead && resp.ContentLength > r.limit {
			return fmt.Errorf("answer of %d bytes, more than %d: %w", resp.ContentLength, r.limit, ErrTooLarge)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, r.limit+1))
		if err != nil {
			return &retryable{err: err}
		}
		if int64(len(body)) > r.limit {
			return fmt.Errorf("answer longer than %d bytes: %w", r.limit, ErrTooLarge)
		}
		ans = &answer{
			body:   body,
			header: resp.Header,
			length: resp.ContentLength,
			url:    resp.Request.URL,
		}
		return nil
	})
	return ans, err
}

// Ping checks that the remote answers /v2/. A 401 counts as alive: the
// remote is there and merely wants credentials for real requests.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.fetch(withoutAuth(ctx), request{
		method:   http.MethodGet,
		url:      c.endpoint("/v2/"),
		notFound: oci.ErrUnavailable,
		limit:    maxErrorBody,
	})
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ping %s: %w", c.name, err)
	}
	return nil
}
