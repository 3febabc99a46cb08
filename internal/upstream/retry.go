package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

const (
	// maxRetryAfter is the longest Retry-After we wait for. A remote asking
	// for longer (Docker Hub does, in hours, once the pull quota is spent)
	// is given up on at once: the client waiting on us will not wait that
	// long, and the cache can serve stale content instead.
	maxRetryAfter = 30 * time.Second
	// Backoff between attempts doubles from defaultBackoff up to maxBackoff.
	defaultBackoff = 200 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// errTimeout is the cause an attempt's context is cancelled with when the
// remote took too long, to tell our timeout from the caller's cancellation.
var errTimeout = errors.New("upstream timed out")

// retryable is an attempt's failure that another attempt may cure.
type retryable struct {
	err   error
	after time.Duration // the remote's Retry-After; 0 if it sent none
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// retry runs attempt until it succeeds, fails for good or the retries are
// spent, waiting with exponential backoff and jitter, or as long as the
// remote's Retry-After says, between attempts. Every attempt reads its
// answer completely or hands it to the caller only on success, so no
// retry repeats bytes the caller has already seen.
func (c *Client) retry(
	ctx context.Context,
	method, rawURL string,
	attempt func(context.Context) error,
) error {
	for n := 0; ; n++ {
		err := attempt(ctx)
		var r *retryable
		if !errors.As(err, &r) {
			c.warnDenied(ctx, method, rawURL, err)
			c.failure.note(ctx, err, c.now())
			return err
		}
		if n >= c.retries || ctx.Err() != nil {
			c.failure.note(ctx, r.err, c.now())
			return r.err
		}
		wait, ok := c.delay(ctx, n, r.after)
		if !ok {
			c.failure.note(ctx, r.err, c.now())
			return r.err
		}
		c.log.Warn("upstream retry",
			telemetry.KeyMethod, method,
			telemetry.KeyPath, pathOf(rawURL),
			telemetry.KeyAttempt, n+1,
			telemetry.KeyWait, wait,
			telemetry.KeyError, r.err)
		if err := c.sleep(ctx, wait); err != nil {
			c.failure.note(ctx, r.err, c.now())
			return r.err
		}
	}
}

// warnDenied logs a refusal by the remote, for the operator: the client
// pulling through breakwater sees only DENIED, and the cure is usually
// the credentials configured for the upstream. Docker Hub answers the same
// for a repository that does not exist, hence the second half of the
// message. A request sent without credentials on purpose (Ping) expects
// a refusal and is not logged.
func (c *Client) warnDenied(ctx context.Context, method, rawURL string, err error) {
	if !errors.Is(err, oci.ErrDenied) || ctx.Value(noAuthKey) != nil {
		return
	}
	c.log.Warn("upstream denied access, check the upstream credentials or the repository name",
		telemetry.KeyMethod, method,
		telemetry.KeyPath, pathOf(rawURL),
		telemetry.KeyCredentials, c.auth.username != "" || c.auth.password != "",
		telemetry.KeyError, err)
}

// pathOf returns the path of one of our request URLs, for the log.
func pathOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return u.Path
	}
	return ""
}

// delay is how long to wait before retry n+1, and false when waiting is
// pointless: the remote wants more than maxRetryAfter, or the caller's
// deadline comes first.
func (c *Client) delay(ctx context.Context, n int, after time.Duration) (time.Duration, bool) {
	wait := after
	if wait > maxRetryAfter {
		return 0, false
	}
	if wait <= 0 {
		wait = min(c.backoff<<min(n, 20), maxBackoff)
		// Full jitter on the upper half, so clients retrying together spread out.
		wait = wait/2 + rand.N(wait/2+1)
	}
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
		return 0, false
	}
	return wait, true
}

// retryAfter reads Retry-After as seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(secs)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send makes one attempt. Options.Timeout bounds the wait for the answer's
// headers; after that it bounds the body either as a whole or, for a
// stream (blobs), as the longest pause between two reads, so that a big
// layer on a slow link is not cut off while it is still moving.
func (c *Client) send(
	ctx context.Context,
	method, rawURL string,
	h http.Header,
	stream bool,
) (*http.Response, error) {
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.timeout, func() { cancel(errTimeout) })
	req, err := http.NewRequestWithContext(actx, method, rawURL, nil)
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, fmt.Errorf("build request: %w", err)
	}
	maps.Copy(req.Header, h)
	// Bytes must arrive as the remote stored them: left alone, Go would ask
	// for gzip and decompress transparently, and digests would not match.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", userAgent)

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		timer.Stop()
		if ctx.Err() == nil {
			// The caller giving up is no fault of the remote's.
			c.metrics.UpstreamRequest(c.name, method, 0, time.Since(start))
		}
		err = c.attemptError(ctx, actx, err)
		cancel(nil)
		return nil, err
	}
	c.metrics.UpstreamRequest(c.name, method, resp.StatusCode, time.Since(start))
	body := &timedBody{rc: resp.Body, ctx: actx, cancel: cancel, timer: timer, timeout: c.timeout, received: c.received}
	if stream {
		body.idle = true
		timer.Reset(c.timeout)
	}
	resp.Body = body
	return resp, nil
}

// attemptError sorts a failed request: the caller's cancellation, a host
// that does not exist and a certificate that fails verification end the
// retries, an error from our handshake keeps its kind, and anything else
// (connection refused, reset, our timeout) is worth another attempt.
func (c *Client) attemptError(ctx, actx context.Context, err error) error {
	// The URL may be a pre-signed CDN address after a redirect: keep it out
	// of errors and logs.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	switch {
	case ctx.Err() != nil:
		return unavailable(ctx.Err())
	case errors.Is(context.Cause(actx), errTimeout):
		return &retryable{err: unavailable(fmt.Errorf("no answer within %s", c.timeout))}
	case isNoSuchHost(err), isBadCertificate(err):
		// The resolver or the certificate check has answered; asking
		// again within one request only delays the same answer.
		return unavailable(err)
	case errors.Is(err, oci.ErrUnavailable):
		return &retryable{err: err}
	case oci.AsError(err) != nil:
		return err
	}
	return &retryable{err: unavailable(err)}
}

// isNoSuchHost reports whether err is the resolver's answer that a name
// does not exist, as opposed to a resolver that could not be reached.
func isNoSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// isBadCertificate reports whether err is the remote's certificate failing
// verification: unknown authority, wrong name or expired.
func isBadCertificate(err error) bool {
	var ve *tls.CertificateVerificationError
	return errors.As(err, &ve)
}

// check returns nil for a 2xx answer and otherwise closes resp and returns
// its error, retryable for 429 and 5xx.
func (c *Client) check(resp *http.Response, notFound *oci.Error) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	after := retryAfter(resp.Header, c.now())
	if resp.StatusCode == http.StatusTooManyRequests && after > 0 {
		c.rate.refused(c.now().Add(after))
	}
	err := statusError(resp, notFound)
	err.After = after
	if retryableStatus(resp.StatusCode) {
		return &retryable{err: err, after: after}
	}
	return err
}

// retryableStatus: 429 and the 5xx that mean "not now" rather than "never".
func retryableStatus(code int) bool {
	switch code {
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return code == http.StatusTooManyRequests || code >= 500
}

// timedBody enforces the timeout on a body: as an idle timeout between
// reads for streams, as a deadline for the whole answer otherwise. Read
// errors wrap oci.ErrUnavailable. It is not safe for concurrent reads,
// like any body.
type timedBody struct {
	rc      io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
	idle    bool
	// received counts what was read, for the metrics.
	received telemetry.ByteCounter
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.received.Add(n)
	if n > 0 && b.idle {
		b.timer.Reset(b.timeout)
	}
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case errors.Is(context.Cause(b.ctx), errTimeout):
		return n, unavailable(fmt.Errorf("read body: no data for %s", b.timeout))
	}
	return n, unavailable(fmt.Errorf("read body: %w", err))
}

func (b *timedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
