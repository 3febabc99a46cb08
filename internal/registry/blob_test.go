package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

const blobContent = "0123456789abcdefghij" // 20 bytes

// TestBlobRange runs one table of Range requests against warm and cold
// blobs, which must answer alike.
func TestBlobRange(t *testing.T) {
	size := len(blobContent)
	tests := []struct {
		name         string
		header       []string
		wantStatus   int
		wantBody     string
		wantRange    string
		wantCodeBody string // error code when the answer is an error
	}{
		{name: "no range", wantStatus: 200, wantBody: blobContent},
		{name: "first bytes", header: []string{"Range", "bytes=0-4"}, wantStatus: 206, wantBody: "01234", wantRange: "bytes 0-4/20"},
		{name: "middle", header: []string{"Range", "bytes=5-9"}, wantStatus: 206, wantBody: "56789", wantRange: "bytes 5-9/20"},
		{name: "open end", header: []string{"Range", "bytes=15-"}, wantStatus: 206, wantBody: "fghij", wantRange: "bytes 15-19/20"},
		{name: "suffix", header: []string{"Range", "bytes=-3"}, wantStatus: 206, wantBody: "hij", wantRange: "bytes 17-19/20"},
		{name: "end past size", header: []string{"Range", "bytes=18-99"}, wantStatus: 206, wantBody: "ij", wantRange: "bytes 18-19/20"},
		{name: "suffix past size", header: []string{"Range", "bytes=-99"}, wantStatus: 206, wantBody: blobContent, wantRange: "bytes 0-19/20"},
		{name: "last byte", header: []string{"Range", "bytes=19-19"}, wantStatus: 206, wantBody: "j", wantRange: "bytes 19-19/20"},
		{name: "start at size", header: []string{"Range", fmt.Sprintf("bytes=%d-", size)}, wantStatus: 416, wantRange: "bytes */20", wantCodeBody: "RANGE_INVALID"},
		{name: "start past size", header: []string{"Range", "bytes=50-60"}, wantStatus: 416, wantRange: "bytes */20", wantCodeBody: "RANGE_INVALID"},
		{name: "zero suffix", header: []string{"Range", "bytes=-0"}, wantStatus: 416, wantRange: "bytes */20", wantCodeBody: "RANGE_INVALID"},
		{name: "none overlaps", header: []string{"Range", "bytes=50-60,-0"}, wantStatus: 416, wantRange: "bytes */20", wantCodeBody: "RANGE_INVALID"},
		// RFC 9110, section 14.2: a Range that is not a valid bytes range
		// is ignored, and must be for a unit the server does not know.
		{name: "garbage", header: []string{"Range", "bytes=abc"}, wantStatus: 200, wantBody: blobContent},
		{name: "end before start", header: []string{"Range", "bytes=5-2"}, wantStatus: 200, wantBody: blobContent},
		{name: "empty set", header: []string{"Range", "bytes="}, wantStatus: 200, wantBody: blobContent},
		{name: "dash alone", header: []string{"Range", "bytes=-"}, wantStatus: 200, wantBody: blobContent},
		{name: "one part invalid", header: []string{"Range", "bytes=0-1,x-2"}, wantStatus: 200, wantBody: blobContent},
		{name: "signed", header: []string{"Range", "bytes=+1-2"}, wantStatus: 200, wantBody: blobContent},
		{name: "unsatisfiable and invalid", header: []string{"Range", "bytes=50-60,abc"}, wantStatus: 200, wantBody: blobContent},
		{name: "other unit", header: []string{"Range", "items=0-1"}, wantStatus: 200, wantBody: blobContent},
		{name: "if-range matches", header: []string{"Range", "bytes=0-1", "If-Range", etag(digestOf(blobContent))}, wantStatus: 206, wantBody: "01", wantRange: "bytes 0-1/20"},
		{name: "if-range stale", header: []string{"Range", "bytes=0-1", "If-Range", `"sha256:old"`}, wantStatus: 200, wantBody: blobContent},
		{name: "if-range stale and unsatisfiable", header: []string{"Range", "bytes=90-", "If-Range", `"sha256:old"`}, wantStatus: 200, wantBody: blobContent},
	}
	for _, mode := range []string{"warm", "cold"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				b := newFakeBackend(t)
				b.cold = mode == "cold"
				d := b.addBlob([]byte(blobContent))
				resp := do(t, New(b, testRouter(t), Options{}), "GET", "/v2/node/blobs/"+d.String(), tt.header...)
				body := readBody(t, resp)

				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
				}
				if got := resp.Header.Get("Content-Range"); got != tt.wantRange {
					t.Errorf("Content-Range = %q, want %q", got, tt.wantRange)
				}
				if tt.wantCodeBody != "" {
					if got := errorCode(t, body); got != tt.wantCodeBody {
						t.Errorf("code = %s, want %s", got, tt.wantCodeBody)
					}
					if got := resp.Header.Get("Docker-Content-Digest"); got != "" {
						t.Errorf("error carries Docker-Content-Digest %q, want none", got)
					}
					return
				}
				if body != tt.wantBody {
					t.Errorf("body = %q, want %q", body, tt.wantBody)
				}
				if got := resp.Header.Get("Content-Length"); got != fmt.Sprint(len(tt.wantBody)) {
					t.Errorf("Content-Length = %s, want %d", got, len(tt.wantBody))
				}
				wantHeaders := map[string]string{
					"Content-Type":          "application/octet-stream",
					"Docker-Content-Digest": d.String(),
					"Accept-Ranges":         "bytes",
					"ETag":                  etag(d),
				}
				for k, v := range wantHeaders {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if n := b.closedBlobs(); n != 1 {
					t.Errorf("blob closed %d times, want 1", n)
				}
			})
		}
	}
}

// TestBlobNotModified checks that warm and cold blobs answer If-None-Match
// alike, and before a Range that could not be satisfied.
func TestBlobNotModified(t *testing.T) {
	d := digestOf(blobContent)
	for _, mode := range []string{"warm", "cold"} {
		for _, tt := range notModifiedCases(d) {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				b := newFakeBackend(t)
				b.cold = mode == "cold"
				b.addBlob([]byte(blobContent))
				header := []string{"Range", "bytes=90-"}
				if tt.header != "" {
					header = append(header, "If-None-Match", tt.header)
				}
				resp := do(t, New(b, testRouter(t), Options{}), "GET", "/v2/node/blobs/"+d.String(), header...)
				if !tt.want304 {
					if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
						t.Errorf("status = %d, want 416", resp.StatusCode)
					}
					return
				}
				checkNotModified(t, resp, d, true, "")
			})
		}
	}
}

// TestBlobMultiRange pins the one place warm and cold differ: several
// ranges are a multipart 206 from a file and the whole blob from a stream.
func TestBlobMultiRange(t *testing.T) {
	for _, tt := range []struct {
		mode       string
		wantStatus int
		wantType   string
	}{
		{"warm", 206, "multipart/byteranges"},
		{"cold", 200, "application/octet-stream"},
	} {
		b := newFakeBackend(t)
		b.cold = tt.mode == "cold"
		d := b.addBlob([]byte(blobContent))
		resp := do(t, New(b, testRouter(t), Options{}), "GET", "/v2/node/blobs/"+d.String(), "Range", "bytes=0-1,5-6")
		if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType) {
			t.Errorf("%s: status %d type %q, want %d %s", tt.mode, resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, tt.wantType)
		}
	}
}

func TestBlobHeadEqualsGet(t *testing.T) {
	for _, mode := range []string{"warm", "cold"} {
		t.Run(mode, func(t *testing.T) {
			b := newFakeBackend(t)
			b.cold = mode == "cold"
			d := b.addBlob([]byte(blobContent))
			h := New(b, testRouter(t), Options{})
			get := do(t, h, "GET", "/v2/ghcr.io/org/app/blobs/"+d.String())
			head := do(t, h, "HEAD", "/v2/ghcr.io/org/app/blobs/"+d.String())
			if get.StatusCode != 200 || head.StatusCode != 200 {
				t.Fatalf("GET, HEAD status = %d, %d; want 200, 200", get.StatusCode, head.StatusCode)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "Docker-Content-Digest", "ETag", "Accept-Ranges"} {
				if get.Header.Get(k) == "" || get.Header.Get(k) != head.Header.Get(k) {
					t.Errorf("%s: GET %q, HEAD %q; want equal and set", k, get.Header.Get(k), head.Header.Get(k))
				}
			}
			if body := readBody(t, head); body != "" {
				t.Errorf("HEAD body = %q, want none", body)
			}
			if n := b.closedBlobs(); n != 2 {
				t.Errorf("blobs closed %d times, want 2", n)
			}
		})
	}
}

// readerFromRecorder is a ResponseWriter that, like net/http's, can take
// a reader whole, and remembers what it was given.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	src []io.Reader
}

func (w *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	w.src = append(w.src, src)
	return io.Copy(w.ResponseRecorder, src)
}

// TestWarmBlobReachesReaderFrom checks that the wrappers between net/http
// and http.ServeContent hand the store's *os.File to the connection's
// ReadFrom, which is where net/http uses sendfile.
func TestWarmBlobReachesReaderFrom(t *testing.T) {
	var _ io.ReaderFrom = (*responseWriter)(nil)

	for _, rng := range []string{"", "bytes=3-7"} {
		t.Run("range="+rng, func(t *testing.T) {
			b := newFakeBackend(t)
			d := b.addBlob([]byte(blobContent))
			req := httptest.NewRequest("GET", "/v2/node/blobs/"+d.String(), nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			w := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
			New(b, testRouter(t), Options{}).ServeHTTP(w, req)

			if len(w.src) != 1 {
				t.Fatalf("ReadFrom called %d times, want 1", len(w.src))
			}
			src := w.src[0]
			if lr, ok := src.(*io.LimitedReader); ok {
				src = lr.R
			}
			if _, ok := src.(*os.File); !ok {
				t.Errorf("ReadFrom got %T, want an *os.File (or one in an *io.LimitedReader)", w.src[0])
			}
		})
	}
}

func TestColdBlobHeadClosesStream(t *testing.T) {
	b := newFakeBackend(t)
	b.cold = true
	d := b.addBlob([]byte(blobContent))
	resp := do(t, New(b, testRouter(t), Options{}), "HEAD", "/v2/node/blobs/"+d.String())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(len(blobContent)) {
		t.Errorf("HEAD = %d with Content-Length %q, want 200 with %d", resp.StatusCode, resp.Header.Get("Content-Length"), len(blobContent))
	}
	if n := b.closedBlobs(); n != 1 {
		t.Errorf("stream closed %d times, want 1", n)
	}
}

// TestColdBlobFailureAborts checks that a stream failing after the headers
// went out reaches the client as a failed body, never as a clean short or
// complete one, over a real connection.
func TestColdBlobFailureAborts(t *testing.T) {
	errMismatch := fmt.Errorf("verify blob: %w", oci.ErrDigestInvalid)
	tests := []struct {
		name      string
		streamLen int
		streamErr error
		rng       string
	}{
		{name: "truncated", streamLen: 100 << 10},
		{name: "truncated with error", streamLen: 100 << 10, streamErr: errors.New("connection reset")},
		{name: "digest mismatch at end", streamErr: errMismatch},
		{name: "mismatch under range to end", streamErr: errMismatch, rng: "bytes=5-"},
		{name: "truncated under range", streamLen: 100 << 10, rng: "bytes=2-200000"},
		{name: "small and truncated", streamLen: 10},
	}
	big := bytes.Repeat([]byte("layer bytes "), 30<<10) // 360 KiB, past every buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			b.cold, b.streamLen, b.streamErr = true, tt.streamLen, tt.streamErr
			content := big
			if tt.streamLen > 0 && tt.streamLen < 100 {
				content = []byte(blobContent)
			}
			d := b.addBlob(content)
			srv := httptest.NewServer(New(b, testRouter(t), Options{}))
			defer srv.Close()

			req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/v2/node/blobs/"+d.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			// A small body may still sit in the server's buffer when the
			// connection is cut, so the failure can come before the headers.
			resp, err := srv.Client().Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Errorf("status %d, body read ended cleanly with %d bytes, want an error", resp.StatusCode, len(body))
			}
		})
	}
}

// TestColdBlobErrorBeforeHeaders checks that a stream failing while the
// handler skips to a range start is still answered with its error code.
func TestColdBlobErrorBeforeHeaders(t *testing.T) {
	b := newFakeBackend(t)
	b.cold, b.streamLen, b.streamErr = true, 3, fmt.Errorf("fill: %w", oci.ErrUnavailable)
	d := b.addBlob([]byte(blobContent))
	resp := do(t, New(b, testRouter(t), Options{}), "GET", "/v2/node/blobs/"+d.String(), "Range", "bytes=10-")
	body := readBody(t, resp)
	if resp.StatusCode != 503 || errorCode(t, body) != "UNAVAILABLE" {
		t.Errorf("got %d %s, want 503 UNAVAILABLE", resp.StatusCode, body)
	}
}

// unsized serves cold blobs as from an upstream that sent no
// Content-Length, whose size the cache reports as -1.
type unsized struct{ *fakeBackend }

func (u unsized) Blob(ctx context.Context, repo cache.Repo, d digest.Digest) (*cache.Blob, error) {
	b, err := u.fakeBackend.Blob(ctx, repo, d)
	if b != nil {
		b.Size = -1
	}
	return b, err
}

// TestColdBlobOfUnknownSize checks, over a real connection, that a cold
// blob of unknown size goes out whole without a length, a Range ignored,
// and that a failing stream still fails the client's read.
func TestColdBlobOfUnknownSize(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		rng       string
		streamErr error
		wantBody  string
	}{
		{name: "get", method: "GET", wantBody: blobContent},
		{name: "range ignored", method: "GET", rng: "bytes=0-4", wantBody: blobContent},
		{name: "head", method: "HEAD"},
		{name: "failing stream", method: "GET", streamErr: fmt.Errorf("verify blob: %w", oci.ErrDigestInvalid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			b.cold, b.streamErr = true, tt.streamErr
			d := b.addBlob([]byte(blobContent))
			srv := httptest.NewServer(New(unsized{b}, testRouter(t), Options{}))
			defer srv.Close()

			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/v2/node/blobs/"+d.String(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				if tt.streamErr == nil {
					t.Fatalf("%s: %v", tt.method, err)
				}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if tt.streamErr != nil {
				if err == nil {
					t.Errorf("status %d, body read ended cleanly with %d bytes, want an error", resp.StatusCode, len(body))
				}
				return
			}
			if err != nil || resp.StatusCode != 200 || string(body) != tt.wantBody {
				t.Errorf("got %d %q, %v; want 200 %q", resp.StatusCode, body, err, tt.wantBody)
			}
			// net/http may find the length itself once a small body is done.
			if n := resp.ContentLength; n != -1 && n != int64(len(body)) {
				t.Errorf("Content-Length %d for %d bytes; want none or the body's", n, len(body))
			}
			if got := resp.Header.Get("Content-Range"); got != "" {
				t.Errorf("Content-Range %q; want none", got)
			}
			if got := resp.Header.Get("Docker-Content-Digest"); got != d.String() {
				t.Errorf("Docker-Content-Digest = %q, want %s", got, d)
			}
		})
	}
}
