package fs_test

import (
	"bytes"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/storetest"
)

// newBlobs opens a store in a fresh directory.
func newBlobs(t *testing.T, root string) *fs.Blobs {
	t.Helper()
	b, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	return b
}

func TestSuite(t *testing.T) {
	storetest.TestBlobs(t, func(t *testing.T) func() store.Blobs {
		root := filepath.Join(t.TempDir(), "data")
		return func() store.Blobs { return newBlobs(t, root) }
	})
}

// spool writes content into b's TempDir.
func spool(t *testing.T, b *fs.Blobs, content []byte) string {
	t.Helper()
	path := filepath.Join(b.TempDir(), "spool")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// files lists the regular files and links under root, relative to it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(path string, e iofs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		got = append(got, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return got
}

// TestLayout pins the documented layout and mode, which operators and
// backup scripts rely on.
func TestLayout(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	content := []byte("layer")
	d := digest.FromBytes(content)
	if err := b.Put(t.Context(), d, spool(t, b, content)); err != nil {
		t.Fatal(err)
	}

	hex := d.Encoded()
	want := []string{"blobs/sha256/" + hex[:2] + "/" + hex}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Errorf("files = %q; want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(root, want[0]))
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("blob file mode = %v, %v; want -r--r--r--", fi.Mode(), err)
	}
}

// TestOpenIsFile checks the *os.File that lets net/http use sendfile.
func TestOpenIsFile(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	content := []byte("sendfile")
	d := digest.FromBytes(content)
	if err := b.Put(t.Context(), d, spool(t, b, content)); err != nil {
		t.Fatal(err)
	}

	rc, _, err := b.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("Open returned %T; want *os.File", rc)
	}
}

// TestNewClearsTemp checks that New removes what a crash left in tmp/ and
// keeps the blobs.
func TestNewClearsTemp(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	content := []byte("kept")
	d := digest.FromBytes(content)
	if err := b.Put(t.Context(), d, spool(t, b, content)); err != nil {
		t.Fatal(err)
	}
	stale := spool(t, b, []byte("half a layer"))
	if err := os.MkdirAll(filepath.Join(b.TempDir(), "sub"), 0o700); err != nil {
		t.Fatal(err)
	}

	b = newBlobs(t, root)
	if _, err := os.Stat(stale); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("stale temp file after New: %v; want it removed", err)
	}
	if entries, err := os.ReadDir(b.TempDir()); err != nil || len(entries) != 0 {
		t.Errorf("TempDir after New holds %d entries, %v; want none", len(entries), err)
	}
	if size, err := b.Stat(t.Context(), d); err != nil || size != int64(len(content)) {
		t.Errorf("Stat after New = %d, %v; want %d, nil", size, err, len(content))
	}
}

// TestHostileInput checks that malformed digests are DIGEST_INVALID and
// that no file appears outside blobs/, and that a link spooled into tmp/
// is refused without touching its target.
func TestHostileInput(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	target := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}

	digests := []digest.Digest{
		"sha256:../../../tmp/x",
		"sha256:" + digest.Digest(bytes.Repeat([]byte("a"), 63)) + "/",
		"sha512:" + digest.Digest(bytes.Repeat([]byte("a"), 128)),
		"sha256:" + digest.Digest(bytes.Repeat([]byte("A"), 64)),
	}
	for _, d := range digests {
		if err := b.Put(t.Context(), d, spool(t, b, []byte("x"))); !errors.Is(err, oci.ErrDigestInvalid) {
			t.Errorf("Put(%q) = %v; want DIGEST_INVALID", d, err)
		}
		if _, err := b.Stat(t.Context(), d); !errors.Is(err, oci.ErrDigestInvalid) {
			t.Errorf("Stat(%q) = %v; want DIGEST_INVALID", d, err)
		}
	}

	link := filepath.Join(b.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), digest.FromString("secret"), link); err == nil {
		t.Errorf("Put of a symbolic link = nil; want an error")
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != "secret" {
		t.Errorf("link target after Put = %q, %v; want it untouched", got, err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("files after hostile Puts = %q; want none", got)
	}
}

// BenchmarkOpenRead measures serving a warm 64 MiB blob from the store.
func BenchmarkOpenRead(b *testing.B) {
	const size = 64 << 20
	s, err := fs.New(b.TempDir(), fs.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	d := digest.FromBytes(content)
	path := filepath.Join(s.TempDir(), "spool")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := s.Put(b.Context(), d, path); err != nil {
		b.Fatal(err)
	}

	b.SetBytes(size)
	for b.Loop() {
		rc, _, err := s.Open(b.Context(), d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
