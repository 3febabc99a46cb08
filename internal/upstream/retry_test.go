package upstream

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"breakwater/internal/oci"
	"breakwater/internal/upstream/upstreamtest"
)

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		failures  int64
		status    int
		header    string
		retries   int
		want      error // nil: succeeds
		wantCalls int64
		wantWaits []time.Duration // nil: only the count is checked
	}{
		{name: "5xx then success", failures: 2, status: 503, retries: 3, wantCalls: 3},
		{name: "5xx bounded", failures: 100, status: 502, retries: 3, want: oci.ErrUnavailable, wantCalls: 4},
		{name: "no retries", failures: 100, status: 500, retries: -1, want: oci.ErrUnavailable, wantCalls: 1},
		{name: "501 is final", failures: 100, status: 501, retries: 3, want: oci.ErrUnavailable, wantCalls: 1},
		{name: "429 seconds", failures: 1, status: 429, header: "7", retries: 3, wantCalls: 2, wantWaits: []time.Duration{7 * time.Second}},
		{name: "429 bounded", failures: 100, status: 429, header: "1", retries: 2, want: oci.ErrTooManyRequests, wantCalls: 3, wantWaits: []time.Duration{time.Second, time.Second}},
		{name: "429 past the cap", failures: 100, status: 429, header: "3600", retries: 3, want: oci.ErrTooManyRequests, wantCalls: 1, wantWaits: []time.Duration{}},
		{name: "429 without Retry-After backs off", failures: 1, status: 429, retries: 3, wantCalls: 2},
		{name: "404 is final", failures: 100, status: 404, retries: 3, want: oci.ErrManifestUnknown, wantCalls: 1, wantWaits: []time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, calls := upstreamtest.FailFirst(tt.failures, tt.status, tt.header, upstreamtest.IsManifest)
			r := upstreamtest.NewRemote(t, mw)
			r.PushImage(t, "app", "1")
			c, waits := newClient(t, r, Options{Retries: tt.retries})

			_, err := c.HeadManifest(t.Context(), "app", tagRef("1"))
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("HeadManifest err = %v, want %v", err, tt.want)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("requests = %d, want %d", got, tt.wantCalls)
			}
			if got := int64(len(waits.get())); got != tt.wantCalls-1 {
				t.Errorf("waits = %v, want %d", waits.get(), tt.wantCalls-1)
			}
			if tt.wantWaits != nil && !equalDurations(waits.get(), tt.wantWaits) {
				t.Errorf("waits = %v, want %v", waits.get(), tt.wantWaits)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRetryAfterPastDeadline(t *testing.T) {
	mw, calls := upstreamtest.FailFirst(100, 429, "20", upstreamtest.IsManifest)
	r := upstreamtest.NewRemote(t, mw)
	c, waits := newClient(t, r, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	_, _, err := c.Manifest(ctx, "app", tagRef("1"))
	if !errors.Is(err, oci.ErrTooManyRequests) || calls.Load() != 1 || len(waits.get()) != 0 {
		t.Errorf("Manifest err = %v after %d requests and waits %v; want %v after 1 request, no wait", err, calls.Load(), waits.get(), oci.ErrTooManyRequests)
	}
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() != 20*time.Second {
		t.Errorf("Manifest err = %v carries no Retry-After of 20s to pass on", err)
	}
}

func TestBackoffGrows(t *testing.T) {
	c := &Client{backoff: 100 * time.Millisecond, now: time.Now}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{6, maxBackoff},
		{1000, maxBackoff},
	}
	for _, tt := range tests {
		got, ok := c.delay(t.Context(), tt.n, 0)
		if !ok || got < tt.want/2 || got > tt.want {
			t.Errorf("delay(%d) = %v, %v; want within [%v, %v]", tt.n, got, ok, tt.want/2, tt.want)
		}
	}
}

func TestConnectionErrorsAreRetried(t *testing.T) {
	r := upstreamtest.NewRemote(t)
	r.Server.Close()
	c, waits := newClient(t, r, Options{Retries: 2})

	_, _, err := c.Blob(t.Context(), "app", zeroDigest)
	if !errors.Is(err, oci.ErrUnavailable) || IsNotFound(err) || len(waits.get()) != 2 {
		t.Errorf("Blob err = %v after waits %v; want %v after 2 waits", err, waits.get(), oci.ErrUnavailable)
	}
}

// TestResolverErrors: a name the resolver says does not exist stays so for
// the length of a request, while a resolver that did not answer may yet.
func TestResolverErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       *net.DNSError
		wantDials int64
	}{
		{"no such host", &net.DNSError{Err: "no such host", Name: "registry.invalid", IsNotFound: true}, 1},
		{"resolver timeout", &net.DNSError{Err: "i/o timeout", Name: "registry.invalid", IsTimeout: true}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int64
			transport := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
				dials.Add(1)
				return nil, tt.err
			}}
			c, err := New(Options{URL: "http://registry.invalid", Retries: 2, Transport: transport})
			if err != nil {
				t.Fatal(err)
			}
			c.sleep = (&waitLog{}).sleep

			_, err = c.HeadManifest(t.Context(), "app", tagRef("1"))
			if !errors.Is(err, oci.ErrUnavailable) || dials.Load() != tt.wantDials {
				t.Errorf("HeadManifest err = %v after %d dials; want %v after %d", err, dials.Load(), oci.ErrUnavailable, tt.wantDials)
			}
		})
	}
}

// TestBadCertificateIsNotRetried: a certificate that fails verification
// fails it again on the next attempt.
func TestBadCertificateIsNotRetried(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	defer srv.Close()
	var dials atomic.Int64
	var dialer net.Dialer
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}}
	c, err := New(Options{URL: srv.URL, Retries: 2, Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = (&waitLog{}).sleep

	_, err = c.HeadManifest(t.Context(), "app", tagRef("1"))
	if !errors.Is(err, oci.ErrUnavailable) || dials.Load() != 1 {
		t.Errorf("HeadManifest err = %v after %d dials; want %v after 1", err, dials.Load(), oci.ErrUnavailable)
	}
}

func TestTimeouts(t *testing.T) {
	// hang blocks until the client goes away; it never asserts timing.
	hang := func(writeFirst bool) upstreamtest.Middleware {
		return upstreamtest.Respond(func(w http.ResponseWriter, r *http.Request) {
			if writeFirst {
				w.Header().Set("Content-Length", "1000")
				_, _ = w.Write([]byte("partial"))
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		})
	}

	t.Run("headers", func(t *testing.T) {
		r := upstreamtest.NewRemote(t, hang(false))
		c, waits := newClient(t, r, Options{Timeout: 50 * time.Millisecond, Retries: 1})
		_, _, err := c.Manifest(t.Context(), "app", tagRef("1"))
		if !errors.Is(err, oci.ErrUnavailable) || len(waits.get()) != 1 {
			t.Errorf("Manifest err = %v after waits %v; want %v after one retry", err, waits.get(), oci.ErrUnavailable)
		}
	})
	t.Run("idle blob body", func(t *testing.T) {
		r := upstreamtest.NewRemote(t, hang(true))
		c, _ := newClient(t, r, Options{Timeout: 50 * time.Millisecond})
		rc, size, err := c.Blob(t.Context(), "app", zeroDigest)
		if err != nil {
			t.Fatalf("Blob: %v", err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if string(got) != "partial" || size != 1000 || !errors.Is(err, oci.ErrUnavailable) {
			t.Errorf("read %q of %d, err %v; want %q of 1000, err %v", got, size, err, "partial", oci.ErrUnavailable)
		}
	})
}

// TestBlobIsNotRetriedOnceHandedOut: a blob body that breaks off is the
// caller's to retry; the client must not stitch bytes together.
func TestBlobIsNotRetriedOnceHandedOut(t *testing.T) {
	var calls atomic.Int64
	cut := upstreamtest.Respond(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("half"))
	})
	r := upstreamtest.NewRemote(t, cut)
	c, _ := newClient(t, r, Options{})
	rc, _, err := c.Blob(t.Context(), "app", zeroDigest)
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, oci.ErrUnavailable) || calls.Load() != 1 {
		t.Errorf("read err = %v after %d requests; want unexpected EOF and %v after 1", err, calls.Load(), oci.ErrUnavailable)
	}
}
