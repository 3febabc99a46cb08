package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// TestBlobs runs the conformance suite for a store.Blobs backend.
func TestBlobs(t *testing.T, backend BlobsBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, backend BlobsBackend)
	}{
		{"Missing", testBlobsMissing},
		{"PutOpen", testBlobsPutOpen},
		{"OpenSeek", testBlobsOpenSeek},
		{"PutConsumesFile", testBlobsPutConsumesFile},
		{"PutTwice", testBlobsPutTwice},
		{"PutOutsideTempDir", testBlobsPutOutsideTempDir},
		{"InvalidDigest", testBlobsInvalidDigest},
		{"Delete", testBlobsDelete},
		{"Concurrent", testBlobsConcurrent},
		{"Reopen", testBlobsReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, backend) })
	}
}

// spool writes content to a new file in b's TempDir, as the cache does
// before Put, and returns the content's digest and the file's path.
func spool(t *testing.T, b store.Blobs, content []byte) (digest.Digest, string) {
	t.Helper()
	d, path, err := spoolErr(b, content)
	must(t, err, "spool blob")
	return d, path
}

// spoolErr is spool for goroutines, which must not call t.Fatal.
func spoolErr(b store.Blobs, content []byte) (digest.Digest, string, error) {
	f, err := os.CreateTemp(b.TempDir(), "storetest-*")
	if err != nil {
		return "", "", err
	}
	_, err = f.Write(content)
	if err := errors.Join(err, f.Close()); err != nil {
		return "", "", err
	}
	return digest.FromBytes(content), f.Name(), nil
}

// put spools content and puts it.
func put(t *testing.T, b store.Blobs, content []byte) digest.Digest {
	t.Helper()
	d, path := spool(t, b, content)
	must(t, b.Put(t.Context(), d, path), "put blob")
	return d
}

// content returns size pseudo-random bytes, the same for the same seed, so
// a backend returning bytes from the wrong offset or blob fails.
func content(seed string, size int) []byte {
	b := make([]byte, size)
	rand.NewChaCha8(sha256.Sum256([]byte(seed))).Read(b)
	return b
}

// checkBlob fails unless b holds exactly want under d, through Stat and
// Open. It is safe to call from goroutines.
func checkBlob(t *testing.T, b store.Blobs, d digest.Digest, want []byte) {
	t.Helper()
	if err := blobErr(t.Context(), b, d, want); err != nil {
		t.Error(err)
	}
}

// blobErr describes how b's blob d differs from want, or returns nil.
func blobErr(ctx context.Context, b store.Blobs, d digest.Digest, want []byte) error {
	size, err := b.Stat(ctx, d)
	if err != nil || size != int64(len(want)) {
		return fmt.Errorf("Stat(%s) = %d, %v; want %d, nil", d, size, err, len(want))
	}
	rc, size, err := b.Open(ctx, d)
	if err != nil {
		return fmt.Errorf("Open(%s): %v", d, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read %s: %v", d, err)
	}
	if size != int64(len(want)) || !bytes.Equal(got, want) {
		return fmt.Errorf("Open(%s) gave size %d and %d bytes (digest %s); want %d bytes", d, size, len(got), digest.FromBytes(got), len(want))
	}
	return nil
}

// checkGone fails unless path no longer exists.
func checkGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lstat(%s) after Put = %v; want the file gone", path, err)
	}
}

func testBlobsMissing(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	d := dg("never stored")

	if _, err := b.Stat(t.Context(), d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat missing = %v; want ErrNotFound", err)
	}
	rc, _, err := b.Open(t.Context(), d)
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Open missing = %v; want ErrNotFound", err)
	}
	if rc != nil {
		rc.Close()
	}
	if err := b.Delete(t.Context(), d); err != nil {
		t.Errorf("Delete missing = %v; want nil", err)
	}
}

func testBlobsPutOpen(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"small", 1000},
		{"several MiB", 3<<20 + 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := content(tt.name, tt.size)
			d := put(t, b, want)
			checkBlob(t, b, d, want)
		})
	}
}

// testBlobsOpenSeek checks the seeking that Range requests rely on.
func testBlobsOpenSeek(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	want := content("seek", 10000)
	d := put(t, b, want)

	rc, _, err := b.Open(t.Context(), d)
	must(t, err, "open blob")
	defer rc.Close()
	tests := []struct {
		offset int64
		whence int
		wantAt int64
	}{
		{1234, io.SeekStart, 1234},
		{-100, io.SeekEnd, 9900},
		{0, io.SeekStart, 0},
	}
	for _, tt := range tests {
		pos, err := rc.Seek(tt.offset, tt.whence)
		if err != nil || pos != tt.wantAt {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d, nil", tt.offset, tt.whence, pos, err, tt.wantAt)
		}
		got := make([]byte, 50)
		n, err := io.ReadFull(rc, got)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read at %d: %v", pos, err)
		}
		if w := want[pos : pos+int64(n)]; n == 0 || !bytes.Equal(got[:n], w) {
			t.Errorf("read at %d = %q; want %q", pos, got[:n], w)
		}
	}
}

func testBlobsPutConsumesFile(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	d, path := spool(t, b, []byte("consumed"))

	must(t, b.Put(t.Context(), d, path), "put blob")
	checkGone(t, path)
}

// testBlobsPutTwice checks that a second Put of present content succeeds,
// consumes its file and leaves the blob intact.
func testBlobsPutTwice(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	want := []byte("twice")
	put(t, b, want)

	d, path := spool(t, b, want)
	if err := b.Put(t.Context(), d, path); err != nil {
		t.Errorf("second Put = %v; want nil", err)
	}
	checkGone(t, path)
	checkBlob(t, b, d, want)
}

// testBlobsPutOutsideTempDir checks that Put refuses a file it was not
// given through TempDir, and leaves that file alone.
func testBlobsPutOutsideTempDir(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	want := []byte("outside")
	d := digest.FromBytes(want)

	// A sibling whose name starts with TempDir's catches a prefix check
	// on strings, the path through ".." one made before cleaning.
	elsewhere := filepath.Join(t.TempDir(), "blob")
	sibling := filepath.Join(b.TempDir()+"-evil", "blob")
	dotdot := b.TempDir() + "/../" + filepath.Base(b.TempDir()) + "-evil/blob"
	must(t, os.MkdirAll(filepath.Dir(sibling), 0o700), "create sibling dir")
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(sibling)) })
	for _, path := range []string{elsewhere, sibling} {
		must(t, os.WriteFile(path, want, 0o600), "write outside file")
	}

	for _, path := range []string{elsewhere, sibling, dotdot, "blob"} {
		if err := b.Put(t.Context(), d, path); err == nil {
			t.Errorf("Put(%s) = nil; want an error", path)
		}
	}
	for _, path := range []string{elsewhere, sibling} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Stat(%s) after refused Put: %v; want the file left alone", path, err)
		}
	}
	if _, err := b.Stat(t.Context(), d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after refused Put = %v; want ErrNotFound", err)
	}
}

// testBlobsInvalidDigest checks that malformed digests and other algorithms
// are refused rather than turned into keys or paths.
func testBlobsInvalidDigest(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	good := dg("x").Encoded()
	tests := []struct {
		name string
		d    digest.Digest
	}{
		{"empty", ""},
		{"no algorithm", digest.Digest(good)},
		{"sha512", digest.SHA512.FromString("x")},
		{"short", "sha256:abc"},
		{"upper case", digest.Digest("sha256:" + strings.ToUpper(good))},
		{"traversal", "sha256:../../../../../../etc/passwd"},
		{"slash", digest.Digest("sha256:" + good[:30] + "/" + good[31:])},
		{"trailing", digest.Digest("sha256:" + good + "/..")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := b.Stat(t.Context(), tt.d); err == nil {
				t.Errorf("Stat(%q) = nil error; want one", tt.d)
			}
			if rc, _, err := b.Open(t.Context(), tt.d); err == nil {
				rc.Close()
				t.Errorf("Open(%q) = nil error; want one", tt.d)
			}
			if err := b.Delete(t.Context(), tt.d); err == nil {
				t.Errorf("Delete(%q) = nil; want an error", tt.d)
			}
			_, path := spool(t, b, []byte("x"))
			if err := b.Put(t.Context(), tt.d, path); err == nil {
				t.Errorf("Put(%q) = nil; want an error", tt.d)
			}
			checkGone(t, path)
		})
	}
}

func testBlobsDelete(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	keep := put(t, b, []byte("keep"))
	d := put(t, b, []byte("delete"))

	must(t, b.Delete(t.Context(), d), "delete blob")
	if _, err := b.Stat(t.Context(), d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after Delete = %v; want ErrNotFound", err)
	}
	if err := b.Delete(t.Context(), d); err != nil {
		t.Errorf("second Delete = %v; want nil", err)
	}
	checkBlob(t, b, keep, []byte("keep"))
}

// testBlobsConcurrent has every worker put one shared blob and one of its
// own at the same time, then read both back.
func testBlobsConcurrent(t *testing.T, backend BlobsBackend) {
	b := backend(t)()
	shared := content("shared", 256<<10)

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := content(fmt.Sprint("worker ", w), 64<<10)
			for _, c := range [][]byte{shared, own} {
				d, path, err := spoolErr(b, c)
				if err == nil {
					err = b.Put(t.Context(), d, path)
				}
				if err != nil {
					t.Errorf("worker %d: spool and put: %v", w, err)
					return
				}
				checkBlob(t, b, d, c)
			}
		})
	}
	wg.Wait()
}

func testBlobsReopen(t *testing.T, backend BlobsBackend) {
	open := backend(t)
	want := []byte("survives")
	d := put(t, open(), want)

	checkBlob(t, open(), d, want)
}
