package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// gate holds an upstream blob response after its first chunk until the
// test releases it, so a test can look at the waiters while the fill is
// provably unfinished.
type gate struct {
	first   int           // bytes sent before holding
	sent    chan struct{} // closed once the first chunk was flushed
	release chan struct{}
}

func newGate(first int) *gate {
	return &gate{first: first, sent: make(chan struct{}), release: make(chan struct{})}
}

// serve answers GETs of blob d through the real registry, held by the gate.
func (g *gate) serve(e *env, d digest.Digest) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || requestKind(r.URL.Path) != "blobs" || !bytes.HasSuffix([]byte(r.URL.Path), []byte(d.String())) {
			return false
		}
		e.reg.ServeHTTP(&gatedWriter{ResponseWriter: w, g: g}, r)
		return true
	}
}

type gatedWriter struct {
	http.ResponseWriter
	g    *gate
	held bool
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.held || len(p) <= w.g.first {
		return w.ResponseWriter.Write(p)
	}
	n, err := w.ResponseWriter.Write(p[:w.g.first])
	if err != nil {
		return n, err
	}
	w.ResponseWriter.(http.Flusher).Flush()
	w.held = true
	close(w.g.sent)
	<-w.g.release
	m, err := w.ResponseWriter.Write(p[w.g.first:])
	return n + m, err
}

// pushLayer pushes an image with one layer of size bytes and returns the
// layer's digest and content.
func pushLayer(e *env, size int64) (digest.Digest, []byte) {
	e.t.Helper()
	img := randomImage(e.t, size, 1)
	e.push("v1", img)
	return layer(e.t, img, 0)
}

func TestBlobConcurrentColdFillFetchesOnce(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, want := pushLayer(e, 256<<10)
	g := newGate(1 << 10)
	e.setIntercept(g.serve(e, d))

	// Every caller joins while the upstream is held half way, so all of
	// them share the one fill.
	const callers = 20
	blobs := make([]*Blob, callers)
	var joined sync.WaitGroup
	for i := range callers {
		joined.Add(1)
		go func() {
			defer joined.Done()
			b, err := e.cache.Blob(ctx, e.repo, d)
			if err != nil {
				t.Errorf("Blob %d: %v", i, err)
				return
			}
			blobs[i] = b
		}()
	}
	joined.Wait()
	close(g.release)

	var read sync.WaitGroup
	for i, b := range blobs {
		if b == nil {
			continue
		}
		read.Add(1)
		go func() {
			defer read.Done()
			if b.Stream == nil || b.Size != int64(len(want)) {
				t.Errorf("caller %d: got stream %v size %d, want a stream of %d bytes", i, b.Stream != nil, b.Size, len(want))
			}
			got, err := readBlob(b)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("caller %d: read %d bytes, %v; want the %d bytes of %s", i, len(got), err, len(want), d)
			}
		}()
	}
	read.Wait()

	if got := e.count("GET", "blobs"); got != 1 {
		t.Errorf("upstream blob GETs for %d concurrent callers: got %d, want 1", callers, got)
	}
	if err := e.meta.HasBlob(ctx, e.repo.String(), d); err != nil {
		t.Errorf("HasBlob after the fill: %v", err)
	}
	if size, err := e.blobs.Stat(ctx, d); err != nil || size != int64(len(want)) {
		t.Errorf("stored blob: got size %d, %v; want %d", size, err, len(want))
	}
}

func TestBlobStreamsWhileFilling(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, want := pushLayer(e, 64<<10)
	g := newGate(4 << 10)
	e.setIntercept(g.serve(e, d))

	b, err := e.cache.Blob(ctx, e.repo, d)
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	defer b.Close()

	// The upstream is held after its first chunk: these bytes can only
	// come from a fill still in progress.
	first := make([]byte, 4<<10)
	if _, err := io.ReadFull(b.Stream, first); err != nil {
		t.Fatalf("read the first chunk while the upstream is held: %v", err)
	}
	if !bytes.Equal(first, want[:len(first)]) {
		t.Errorf("first chunk differs from the blob's start")
	}
	close(g.release)
	rest, err := io.ReadAll(b.Stream)
	if err != nil || !bytes.Equal(append(first, rest...), want) {
		t.Errorf("whole stream: %d bytes, %v; want the %d bytes of %s", len(first)+len(rest), err, len(want), d)
	}
}

func TestBlobFillFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name string
		// body answers the blob GET, given the true content; it returns
		// after writing, which ends the response.
		body func(w http.ResponseWriter, content []byte, release <-chan struct{})
	}{
		{"truncated", func(w http.ResponseWriter, content []byte, release <-chan struct{}) {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			writeHeld(w, content[:len(content)/2], release)
		}},
		{"truncated without length", func(w http.ResponseWriter, content []byte, release <-chan struct{}) {
			writeHeld(w, content[:len(content)/2], release)
		}},
		{"lying", func(w http.ResponseWriter, content []byte, release <-chan struct{}) {
			lie := bytes.Clone(content)
			lie[len(lie)-1] ^= 0xff
			w.Header().Set("Content-Length", strconv.Itoa(len(lie)))
			writeHeld(w, lie, release)
		}},
		{"lying without length", func(w http.ResponseWriter, content []byte, release <-chan struct{}) {
			writeHeld(w, append(bytes.Clone(content), "more"...), release)
		}},
		{"short length", func(w http.ResponseWriter, content []byte, release <-chan struct{}) {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)-1))
			writeHeld(w, content[:len(content)-1], release)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testContext(t)
			d, content := pushLayer(e, 32<<10)
			release := make(chan struct{})
			e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if requestKind(r.URL.Path) != "blobs" {
					return false
				}
				tt.body(w, content, release)
				return true
			})

			const callers = 5
			var blobs []*Blob
			for range callers {
				b, err := e.cache.Blob(ctx, e.repo, d)
				if err != nil {
					t.Fatalf("Blob: %v", err)
				}
				blobs = append(blobs, b)
			}
			close(release)
			for i, b := range blobs {
				got, err := readBlob(b)
				if err == nil || errors.Is(err, io.EOF) {
					t.Errorf("caller %d: read %d bytes, %v; want an error other than EOF", i, len(got), err)
				}
			}

			if got := e.count("GET", "blobs"); got != 1 {
				t.Errorf("upstream blob GETs: got %d, want 1", got)
			}
			if _, err := e.blobs.Stat(ctx, d); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("blob store after a bad fill: got %v, want %v", err, store.ErrNotFound)
			}
			if err := e.meta.HasBlob(ctx, e.repo.String(), d); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("HasBlob after a bad fill: got %v, want %v", err, store.ErrNotFound)
			}
			e.checkTempEmpty()

			// A later request tries again rather than remembering the failure.
			e.setIntercept(nil)
			b, err := e.cache.Blob(ctx, e.repo, d)
			if err != nil {
				t.Fatalf("Blob after the upstream recovered: %v", err)
			}
			if got, err := readBlob(b); err != nil || !bytes.Equal(got, content) {
				t.Errorf("Blob after the upstream recovered: %d bytes, %v; want %d bytes", len(got), err, len(content))
			}
		})
	}
}

// writeHeld writes the first half of body, flushes, waits for release and
// writes the rest.
func writeHeld(w http.ResponseWriter, body []byte, release <-chan struct{}) {
	half := len(body) / 2
	w.Write(body[:half])
	w.(http.Flusher).Flush()
	<-release
	w.Write(body[half:])
}

func TestBlobFillSurvivesFirstClientLeaving(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, want := pushLayer(e, 64<<10)
	g := newGate(4 << 10)
	e.setIntercept(g.serve(e, d))

	firstCtx, cancel := context.WithCancel(ctx)
	first, err := e.cache.Blob(firstCtx, e.repo, d)
	if err != nil {
		t.Fatalf("first Blob: %v", err)
	}
	second, err := e.cache.Blob(ctx, e.repo, d)
	if err != nil {
		t.Fatalf("second Blob: %v", err)
	}
	if _, err := io.ReadFull(first.Stream, make([]byte, 4<<10)); err != nil {
		t.Fatalf("first reader: %v", err)
	}

	// The first client goes away while the reader has caught up.
	cancel()
	if n, err := first.Stream.Read(make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("first reader after cancel: got %d, %v; want %v", n, err, context.Canceled)
	}
	first.Close()
	close(g.release)

	got, err := readBlob(second)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("second reader: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	if _, err := e.blobs.Stat(ctx, d); err != nil {
		t.Errorf("stored blob after the first client left: %v", err)
	}
}

func TestBlobFillSurvivesOnlyClientLeaving(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, _ := pushLayer(e, 16<<10)
	reached, release := make(chan struct{}), make(chan struct{})
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if requestKind(r.URL.Path) == "blobs" {
			close(reached)
			<-release
		}
		return false
	})

	clientCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := e.cache.Blob(clientCtx, e.repo, d)
		errc <- err
	}()
	<-reached
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Blob of a client that left: got %v, want %v", err, context.Canceled)
	}
	close(release)

	// The fill must complete on its own; wait for it (Close would stop it).
	e.cache.wg.Wait()
	if err := e.meta.HasBlob(ctx, e.repo.String(), d); err != nil {
		t.Errorf("HasBlob after the only client left: %v", err)
	}
	if _, err := e.blobs.Stat(ctx, d); err != nil {
		t.Errorf("stored blob after the only client left: %v", err)
	}
}

func TestBlobUpstreamErrors(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(http.ResponseWriter, *http.Request) bool
		wantErr error
	}{
		{"unknown", nil, oci.ErrBlobUnknown},
		{"503", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}, oci.ErrUnavailable},
		{"429", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, oci.ErrTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testContext(t)
			e.push("v1", randomImage(t, 256, 1))
			e.setIntercept(tt.answer)
			_, err := e.cache.Blob(ctx, e.repo, digest.FromString("absent"))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Blob: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestCloseStopsFills(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, _ := pushLayer(e, 64<<10)
	g := newGate(4 << 10)
	e.setIntercept(g.serve(e, d))
	defer close(g.release)

	b, err := e.cache.Blob(ctx, e.repo, d)
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	e.cache.Close()
	if got, err := readBlob(b); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("reader of a fill stopped by Close: read %d bytes, %v; want an error other than EOF", len(got), err)
	}
	if _, err := e.cache.Blob(ctx, e.repo, d); !errors.Is(err, oci.ErrUnavailable) {
		t.Errorf("Blob after Close: got %v, want %v", err, oci.ErrUnavailable)
	}
	if _, err := e.blobs.Stat(ctx, d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("blob store after Close stopped the fill: got %v, want %v", err, store.ErrNotFound)
	}
}

func TestBlobSizeLimit(t *testing.T) {
	const limit = 1 << 10
	tests := []struct {
		name string
		size int
		// chunked leaves out Content-Length.
		chunked bool
		// fetchErr fails Blob itself; streamErr fails the stream's Read,
		// or Blob when the fill failed before it returned; nil for
		// neither.
		fetchErr, streamErr error
	}{
		{"declared at the limit", limit, false, nil, nil},
		{"declared above the limit", limit + 1, false, oci.ErrDenied, nil},
		{"undeclared at the limit", limit, true, nil, nil},
		{"undeclared above the limit", 4 * limit, true, nil, oci.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withOptions(func(o *Options) { o.MaxBlobSize = limit }))
			ctx := testContext(t)
			content := bytes.Repeat([]byte("x"), tt.size)
			d := digest.FromBytes(content)
			e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
				if !tt.chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(content)))
				}
				// Flushing before the end makes a body without a length chunked.
				w.Write(content[:1])
				w.(http.Flusher).Flush()
				w.Write(content[1:])
				return true
			})

			b, err := e.cache.Blob(ctx, e.repo, d)
			if tt.fetchErr != nil {
				if !errors.Is(err, tt.fetchErr) {
					t.Errorf("Blob: got %v, want %v", err, tt.fetchErr)
				}
				return
			}
			// The fill may fail before Blob returns or while it is read.
			if err == nil {
				_, err = readBlob(b)
			}
			if !errors.Is(err, tt.streamErr) || (err == nil) != (tt.streamErr == nil) {
				t.Fatalf("Blob and read: got %v, want %v", err, tt.streamErr)
			}
			_, err = e.blobs.Stat(ctx, d)
			if stored := err == nil; stored != (tt.streamErr == nil) {
				t.Errorf("blob stored: got %v, want %v", stored, tt.streamErr == nil)
			}
		})
	}
}

// TestBlobMissedJustBeforeCommit: a caller that found the blob missing
// just before another caller's fill stored it and ended reads it from the
// store instead of fetching it again.
func TestBlobMissedJustBeforeCommit(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	d, want := pushLayer(e, 4<<10)
	var missed atomic.Bool
	e.cache.missedBlob = func() {
		if missed.Swap(true) {
			return // the other caller
		}
		b, err := e.cache.Blob(ctx, e.repo, d)
		if err != nil {
			t.Errorf("other caller's Blob: %v", err)
			return
		}
		if _, err := readBlob(b); err != nil {
			t.Errorf("other caller's read: %v", err)
		}
		e.cache.wg.Wait() // its fill has left the map
	}

	b, err := e.cache.Blob(ctx, e.repo, d)
	if err != nil {
		t.Fatalf("Blob: %v", err)
	}
	if got, err := readBlob(b); err != nil || !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	if got := e.count("GET", "blobs"); got != 1 {
		t.Errorf("upstream blob GETs: got %d, want 1", got)
	}
}
