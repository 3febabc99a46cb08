package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// fakeBackend is an in-memory Backend for HTTP-level cases. Warm blobs are
// real files, so the sendfile path is the one under test.
type fakeBackend struct {
	t   *testing.T
	dir string

	mu        sync.Mutex
	manifests map[string]*cache.Manifest // repo + "@" + tag or digest
	blobs     map[digest.Digest][]byte
	cold      bool  // serve blobs as streams
	streamLen int   // when > 0, cold streams stop after this many bytes
	streamErr error // cold streams end with this error instead of io.EOF
	tags      map[string][]string
	repos     []string
	referrers map[digest.Digest][]byte
	err       error        // every call fails with it when set
	asked     []cache.Repo // the repos calls were made for
	closed    int          // streams closed
	files     []*os.File   // warm blobs handed out
}

func newFakeBackend(t *testing.T) *fakeBackend {
	t.Helper()
	return &fakeBackend{
		t:         t,
		dir:       t.TempDir(),
		manifests: map[string]*cache.Manifest{},
		blobs:     map[digest.Digest][]byte{},
		tags:      map[string][]string{},
		referrers: map[digest.Digest][]byte{},
	}
}

// addManifest stores body under tag (if any) and its digest.
func (b *fakeBackend) addManifest(repo cache.Repo, tag, mediaType string, body []byte) digest.Digest {
	d := digest.FromBytes(body)
	m := &cache.Manifest{
		Descriptor: oci.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(body))},
		Body:       body,
		Hit:        true,
	}
	b.manifests[repo.String()+"@"+d.String()] = m
	if tag != "" {
		b.manifests[repo.String()+"@"+tag] = m
	}
	return d
}

func (b *fakeBackend) addBlob(content []byte) digest.Digest {
	d := digest.FromBytes(content)
	b.blobs[d] = content
	if err := os.WriteFile(filepath.Join(b.dir, d.Encoded()), content, 0o600); err != nil {
		b.t.Fatal(err)
	}
	return d
}

func (b *fakeBackend) note(repo cache.Repo) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, repo)
	return b.err
}

func (b *fakeBackend) Manifest(ctx context.Context, repo cache.Repo, ref oci.Reference) (*cache.Manifest, error) {
	if err := b.note(repo); err != nil {
		return nil, err
	}
	m, ok := b.manifests[repo.String()+"@"+ref.String()]
	if !ok {
		return nil, oci.ErrManifestUnknown
	}
	return m, nil
}

func (b *fakeBackend) Blob(ctx context.Context, repo cache.Repo, d digest.Digest) (*cache.Blob, error) {
	if err := b.note(repo); err != nil {
		return nil, err
	}
	content, ok := b.blobs[d]
	if !ok {
		return nil, oci.ErrBlobUnknown
	}
	if !b.cold {
		f, err := os.Open(filepath.Join(b.dir, d.Encoded()))
		if err != nil {
			return nil, err
		}
		// The bare *os.File, as the filesystem store gives it: wrapping it
		// would hide it from sendfile.
		b.mu.Lock()
		b.files = append(b.files, f)
		b.mu.Unlock()
		return &cache.Blob{Size: int64(len(content)), File: f, Hit: true}, nil
	}

	var r io.Reader = bytes.NewReader(content)
	if b.streamLen > 0 {
		r = bytes.NewReader(content[:b.streamLen])
	}
	if b.streamErr != nil {
		r = io.MultiReader(r, iotest.ErrReader(b.streamErr))
	}
	return &cache.Blob{Size: int64(len(content)), Stream: closeCounter{readSeeker{r}, b}}, nil
}

func (b *fakeBackend) Tags(ctx context.Context, repo cache.Repo, last string, n int) ([]string, error) {
	if err := b.note(repo); err != nil {
		return nil, err
	}
	tags, ok := b.tags[repo.String()]
	if !ok {
		return nil, oci.ErrNameUnknown
	}
	return after(tags, last, n), nil
}

func (b *fakeBackend) Referrers(ctx context.Context, repo cache.Repo, d digest.Digest, artifactType string) ([]byte, error) {
	if err := b.note(repo); err != nil {
		return nil, err
	}
	body, ok := b.referrers[d]
	if !ok {
		return nil, oci.ErrManifestUnknown
	}
	return body, nil
}

func (b *fakeBackend) Catalog(ctx context.Context, last string, n int) ([]string, error) {
	if err := b.note(cache.Repo{}); err != nil {
		return nil, err
	}
	return after(b.repos, last, n), nil
}

// after is the store's paging: sorted names after last, at most n (n <= 0: all).
func after(names []string, last string, n int) []string {
	names = slices.Sorted(slices.Values(names))
	i, _ := slices.BinarySearch(names, last)
	if i < len(names) && names[i] == last {
		i++
	}
	names = names[i:]
	if n > 0 && len(names) > n {
		names = names[:n]
	}
	return slices.Clone(names)
}

// readSeeker gives a stream the Seek a ReadSeekCloser needs, never used.
type readSeeker struct{ io.Reader }

func (readSeeker) Seek(int64, int) (int64, error) { panic("seek on a stream") }

type closeCounter struct {
	io.ReadSeeker
	b *fakeBackend
}

func (c closeCounter) Close() error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.closed++
	return nil
}

// closedBlobs counts the blobs handed out and closed since; it closes the
// files that were left open.
func (b *fakeBackend) closedBlobs() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.closed
	for _, f := range b.files {
		if err := f.Close(); errors.Is(err, os.ErrClosed) {
			n++
		}
	}
	b.files = nil
	return n
}

// testRouter routes like the default configuration: Docker Hub by default,
// plus ghcr.io and quay.io.
func testRouter(t *testing.T) *Router {
	t.Helper()
	rt, err := NewRouter("docker.io",
		Upstream{Name: "docker.io", Aliases: []string{"registry-1.docker.io", "index.docker.io"}},
		Upstream{Name: "ghcr.io"},
		Upstream{Name: "quay.io"},
	)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	return rt
}

// do serves one request in process and returns the response.
func do(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

// errorCode returns the single error code of a spec error body.
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("body %q is not a spec error with one entry (err %v)", body, err)
	}
	return e.Errors[0].Code
}

var (
	nodeRepo = cache.Repo{Upstream: "docker.io", Path: "library/node"}
	appRepo  = cache.Repo{Upstream: "ghcr.io", Path: "org/app"}
)

func hexOf(c string, n int) string { return strings.Repeat(c, n) }

func digestOf(s string) digest.Digest { return digest.FromString(s) }
