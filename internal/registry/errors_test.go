package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// rateLimited is an upstream 429 that knows when to come back.
type rateLimited struct{ after time.Duration }

func (e rateLimited) Error() string             { return "upstream rate limit" }
func (e rateLimited) Unwrap() error             { return oci.ErrTooManyRequests }
func (e rateLimited) RetryAfter() time.Duration { return e.after }

// TestBackendErrors checks that each error kind a backend returns reaches
// the client as its spec code and status, with no detail from upstream.
func TestBackendErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		target     string
		wantStatus int
		wantCode   string
	}{
		{"manifest unknown", oci.ErrManifestUnknown, "/v2/node/manifests/latest", 404, "MANIFEST_UNKNOWN"},
		{"name unknown", oci.ErrNameUnknown, "/v2/node/tags/list", 404, "NAME_UNKNOWN"},
		{"blob unknown", oci.ErrBlobUnknown, "/v2/node/blobs/sha256:" + hexOf("a", 64), 404, "BLOB_UNKNOWN"},
		{"unauthorized", oci.ErrUnauthorized, "/v2/node/manifests/latest", 401, "UNAUTHORIZED"},
		{"denied", fmt.Errorf("fetch manifest from https://user:s3cret@upstream: %w", oci.ErrDenied), "/v2/node/manifests/latest", 403, "DENIED"},
		{"too many requests", oci.ErrTooManyRequests, "/v2/node/manifests/latest", 429, "TOOMANYREQUESTS"},
		{"unavailable", oci.ErrUnavailable, "/v2/node/blobs/sha256:" + hexOf("b", 64), 503, "UNAVAILABLE"},
		{"digest mismatch", oci.ErrDigestInvalid, "/v2/node/manifests/sha256:" + hexOf("c", 64), 400, "DIGEST_INVALID"},
		{"referrers", oci.ErrManifestUnknown, "/v2/node/referrers/sha256:" + hexOf("d", 64), 404, "MANIFEST_UNKNOWN"},
		{"catalog", oci.ErrUnavailable, "/v2/_catalog", 503, "UNAVAILABLE"},
		{"unclassified", errors.New("disk on fire at /var/lib/s3cret"), "/v2/node/manifests/latest", 500, "UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			b.err = tt.err
			resp := do(t, New(b, testRouter(t), Options{}), "GET", tt.target)
			body := readBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := errorCode(t, body); got != tt.wantCode {
				t.Errorf("code = %s, want %s", got, tt.wantCode)
			}
			if strings.Contains(body, "s3cret") {
				t.Errorf("body %q leaks the backend's error text", body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := resp.Header.Get(apiVersionHeader); got != "registry/2.0" {
				t.Errorf("%s = %q, want registry/2.0", apiVersionHeader, got)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"known", fmt.Errorf("fetch manifest: %w", rateLimited{90 * time.Second}), "90"},
		{"rounded up", rateLimited{1500 * time.Millisecond}, "2"},
		{"unknown", oci.ErrTooManyRequests, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			b.err = tt.err
			resp := do(t, New(b, testRouter(t), Options{}), "GET", "/v2/node/manifests/latest")
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("status = %d, want 429", resp.StatusCode)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.want {
				t.Errorf("Retry-After = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHostileInput feeds names, references and methods a client must not
// get past the parser with, and checks each is refused with its code and
// never reaches the backend.
func TestHostileInput(t *testing.T) {
	long := strings.Repeat("a", oci.MaxNameLength+1)
	tests := []struct {
		name       string
		method     string
		target     string
		wantStatus int
		wantCode   string
	}{
		{"dot dot", "GET", "/v2/foo/../bar/manifests/latest", 400, "NAME_INVALID"},
		{"leading dot dot", "GET", "/v2/../etc/manifests/latest", 400, "NAME_INVALID"},
		{"only dot dot", "GET", "/v2/../manifests/latest", 400, "NAME_INVALID"},
		{"dot segment", "GET", "/v2/foo/./bar/blobs/sha256:" + hexOf("a", 64), 400, "NAME_INVALID"},
		{"encoded slash", "GET", "/v2/foo%2Fbar/manifests/latest", 400, "NAME_INVALID"},
		{"encoded lower slash", "GET", "/v2/foo%2fbar/tags/list", 400, "NAME_INVALID"},
		{"encoded dots", "GET", "/v2/foo/%2e%2e/bar/manifests/latest", 400, "NAME_INVALID"},
		{"encoded letter", "GET", "/v2/f%6fo/manifests/latest", 400, "NAME_INVALID"},
		{"upper case", "GET", "/v2/Library/Node/manifests/latest", 400, "NAME_INVALID"},
		{"over long", "GET", "/v2/" + long + "/manifests/latest", 400, "NAME_INVALID"},
		{"empty component", "GET", "/v2/foo//bar/manifests/latest", 400, "NAME_INVALID"},
		{"trailing slash", "GET", "/v2/foo//manifests/latest", 400, "NAME_INVALID"},
		{"empty name", "GET", "/v2//manifests/latest", 400, "NAME_INVALID"},
		{"separator at end", "GET", "/v2/foo-/manifests/latest", 400, "NAME_INVALID"},
		{"space", "GET", "/v2/foo%20bar/manifests/latest", 400, "NAME_INVALID"},
		{"digest not hex", "GET", "/v2/node/blobs/sha256:xyz", 400, "DIGEST_INVALID"},
		{"digest short", "GET", "/v2/node/blobs/sha256:" + hexOf("a", 63), 400, "DIGEST_INVALID"},
		{"digest long", "GET", "/v2/node/blobs/sha256:" + hexOf("a", 65), 400, "DIGEST_INVALID"},
		{"digest upper hex", "GET", "/v2/node/blobs/sha256:" + hexOf("A", 64), 400, "DIGEST_INVALID"},
		{"digest md5", "GET", "/v2/node/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", 400, "DIGEST_INVALID"},
		{"digest sha512", "GET", "/v2/node/blobs/sha512:" + hexOf("a", 128), 400, "DIGEST_INVALID"},
		{"digest no algorithm", "GET", "/v2/node/blobs/" + hexOf("a", 64), 400, "DIGEST_INVALID"},
		{"digest empty", "GET", "/v2/node/blobs/", 400, "DIGEST_INVALID"},
		{"manifest digest sha512", "HEAD", "/v2/node/manifests/sha512:" + hexOf("a", 128), 400, "DIGEST_INVALID"},
		{"manifest digest short", "GET", "/v2/node/manifests/sha256:" + hexOf("a", 63), 400, "DIGEST_INVALID"},
		{"referrers bad digest", "GET", "/v2/node/referrers/sha256:xyz", 400, "DIGEST_INVALID"},
		{"tag leading dot", "GET", "/v2/node/manifests/.hidden", 400, "MANIFEST_INVALID"},
		{"tag too long", "GET", "/v2/node/manifests/" + strings.Repeat("t", 129), 400, "MANIFEST_INVALID"},
		{"tag empty", "GET", "/v2/node/manifests/", 400, "MANIFEST_INVALID"},
		{"tag encoded", "GET", "/v2/node/manifests/lat%65st", 400, "MANIFEST_INVALID"},
		{"put manifest", "PUT", "/v2/node/manifests/latest", 405, "UNSUPPORTED"},
		{"delete manifest", "DELETE", "/v2/node/manifests/sha256:" + hexOf("a", 64), 405, "UNSUPPORTED"},
		{"post upload", "POST", "/v2/node/blobs/uploads/", 405, "UNSUPPORTED"},
		{"patch upload", "PATCH", "/v2/node/blobs/uploads/3f2a", 405, "UNSUPPORTED"},
		{"upload status", "GET", "/v2/node/blobs/uploads/3f2a", 405, "UNSUPPORTED"},
		{"patch blob", "PATCH", "/v2/node/blobs/sha256:" + hexOf("a", 64), 405, "UNSUPPORTED"},
		{"delete blob", "DELETE", "/v2/node/blobs/sha256:" + hexOf("a", 64), 405, "UNSUPPORTED"},
		{"post catalog", "POST", "/v2/_catalog", 405, "UNSUPPORTED"},
		{"put base", "PUT", "/v2/", 405, "UNSUPPORTED"},
		{"options tags", "OPTIONS", "/v2/node/tags/list", 405, "UNSUPPORTED"},
		{"bad tags n", "GET", "/v2/node/tags/list?n=abc", 400, "PAGINATION_NUMBER_INVALID"},
		{"negative tags n", "GET", "/v2/node/tags/list?n=-1", 400, "PAGINATION_NUMBER_INVALID"},
		{"bad catalog n", "GET", "/v2/_catalog?n=1e3", 400, "PAGINATION_NUMBER_INVALID"},
		{"unknown path", "GET", "/v2/node/things/latest", 404, "UNSUPPORTED"},
		{"unknown root", "GET", "/v3/", 404, "UNSUPPORTED"},
		{"short path", "GET", "/v2/node", 404, "UNSUPPORTED"},
		{"search without searcher", "GET", "/v1/search?q=node", 404, "UNSUPPORTED"},
		{"unknown ns", "GET", "/v2/org/app/manifests/latest?ns=registry.example.com", 404, "NAME_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			resp := do(t, New(b, testRouter(t), Options{}), tt.method, tt.target)
			body := readBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s %s: status = %d, want %d (body %s)", tt.method, tt.target, resp.StatusCode, tt.wantStatus, body)
			}
			if tt.method != "HEAD" {
				if got := errorCode(t, body); got != tt.wantCode {
					t.Errorf("%s %s: code = %s, want %s", tt.method, tt.target, got, tt.wantCode)
				}
			}
			if _, ok := resp.Header["Allow"]; tt.wantStatus == 405 && !ok {
				t.Errorf("no Allow header on a 405")
			}
			if len(b.asked) != 0 {
				t.Errorf("backend was asked for %v, want no call", b.asked)
			}
		})
	}
}

// TestErrorDetail checks that a refused request says why, in the detail.
func TestErrorDetail(t *testing.T) {
	resp := do(t, New(newFakeBackend(t), testRouter(t), Options{}), "GET", "/v2/foo%2Fbar/manifests/latest")
	var e errorBody
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Detail, "percent-encoded") {
		t.Errorf("errors = %+v, want one whose detail says percent-encoded", e.Errors)
	}
}

// FuzzServeHTTP holds the parser to never answering bad input with a 5xx
// or a panic. Its seeds run with every go test.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range []string{
		"/v2/", "/v2/a/manifests/b", "/v2/a/b/c/blobs/sha256:", "/v2/%2F/tags/list",
		"/v2/a/manifests/sha256:%00", "/v2/_catalog?n=99999999999999999999", "/v2/a/tags/list?n=1&last=%ff",
		"/v2/a/referrers/sha256:" + hexOf("0", 64) + "?artifactType=%00", "/v2/docker.io/manifests/x",
		"/v2/a/blobs/uploads/x", "/v2/../../../../etc/passwd/blobs/x", "/v1/search?q=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.Parse("http://breakwater" + target)
		if err != nil {
			return
		}
		b := newFakeBackend(t)
		h := New(b, testRouter(t), Options{})
		for _, method := range []string{"GET", "HEAD", "PUT"} {
			req := (&http.Request{Method: method, URL: u, Header: http.Header{}}).WithContext(t.Context())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Errorf("%s %q: status %d, want below 500", method, target, rec.Code)
			}
		}
	})
}

// negativeHit is err as the cache returns it from its negative cache.
func negativeHit(err error) error {
	return fmt.Errorf("%w: fetch manifest: remote answered 404: %w", cache.ErrNegativeHit, err)
}

// TestRequestLog checks the one line each request gets and its level.
func TestRequestLog(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		target    string
		wantLevel string
		want      map[string]any
	}{
		{
			name: "manifest hit", target: "/v2/node/manifests/latest", wantLevel: "INFO",
			want: map[string]any{"method": "GET", "path": "/v2/node/manifests/latest", "repo": "docker.io/library/node", "reference": "latest", "cache": "hit", "status": float64(200)},
		},
		{
			name: "blob unknown", target: "/v2/ghcr.io/org/app/blobs/sha256:" + hexOf("e", 64), wantLevel: "INFO",
			want: map[string]any{"repo": "ghcr.io/org/app", "digest": "sha256:" + hexOf("e", 64), "status": float64(404), "bytes": float64(len(`{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`))},
		},
		{
			name: "unclassified error", err: errors.New("broken store"), target: "/v2/node/manifests/latest", wantLevel: "ERROR",
			want: map[string]any{"status": float64(500), "err": "broken store"},
		},
		{
			name: "upstream down", err: oci.ErrUnavailable, target: "/v2/node/manifests/latest", wantLevel: "WARN",
			want: map[string]any{"status": float64(503)},
		},
		{
			name: "remembered unknown manifest", err: negativeHit(oci.ErrManifestUnknown), target: "/v2/node/manifests/nope", wantLevel: "INFO",
			want: map[string]any{"cache": "negative", "status": float64(404)},
		},
		{
			name: "remembered unknown blob", err: negativeHit(oci.ErrNameUnknown), target: "/v2/node/blobs/sha256:" + hexOf("e", 64), wantLevel: "INFO",
			want: map[string]any{"cache": "negative", "status": float64(404)},
		},
		{
			name: "remembered unknown repository", err: negativeHit(oci.ErrNameUnknown), target: "/v2/node/tags/list", wantLevel: "INFO",
			want: map[string]any{"cache": "negative", "status": float64(404)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFakeBackend(t)
			b.addManifest(nodeRepo, "latest", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2}`))
			b.err = tt.err
			var buf bytes.Buffer
			h := New(b, testRouter(t), Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
			do(t, h, "GET", tt.target)

			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatal(err)
			}
			if got["level"] != tt.wantLevel || got["msg"] != "request" {
				t.Errorf("level, msg = %v, %v; want %s, request", got["level"], got["msg"], tt.wantLevel)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("field %s = %v, want %v", k, got[k], v)
				}
			}
			for _, k := range []string{"duration", "request_id", "bytes"} {
				if _, ok := got[k]; !ok {
					t.Errorf("field %s missing from %s", k, lines[0])
				}
			}
		})
	}
}
