package fs_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/storetest"
)

// newBlobs opens a store at root and closes it when the test ends.
func newBlobs(t *testing.T, root string) *fs.Blobs {
	t.Helper()
	b, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	t.Cleanup(func() { b.Close() })
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
	spool, err := filepath.Rel(root, b.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := filepath.Match("tmp/spool-*", spool); !ok {
		t.Errorf("TempDir = %s; want tmp/spool-*", spool)
	}
	want := []string{"blobs/sha256/" + hex[:2] + "/" + hex, spool + ".lock"}
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

// TestNewRemovesDeadSpools checks that New removes what owners gone
// before left in tmp/ (their lock is free) and keeps the blobs.
func TestNewRemovesDeadSpools(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	content := []byte("kept")
	d := digest.FromBytes(content)
	if err := b.Put(t.Context(), d, spool(t, b, content)); err != nil {
		t.Fatal(err)
	}

	// A crashed owner: its lock file is there but nobody holds the lock.
	tmp := filepath.Join(root, "tmp")
	dead := filepath.Join(tmp, "spool-1")
	leftovers := []string{
		filepath.Join(dead, "fill-1"),           // a crashed owner's spool
		filepath.Join(tmp, "spool-2", "fill-2"), // a spool whose lock is gone
		filepath.Join(tmp, "fill-3"),            // a file from before spools
		filepath.Join(tmp, "sub", "manifest-4"), // a directory from before spools
	}
	for _, path := range append(leftovers, dead+".lock") {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("half a layer"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	c := newBlobs(t, root)
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{filepath.Base(b.TempDir()), filepath.Base(b.TempDir()) + ".lock",
		filepath.Base(c.TempDir()), filepath.Base(c.TempDir()) + ".lock"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tmp/ after New = %q; want only the live spools %q", got, want)
	}
	if size, err := c.Stat(t.Context(), d); err != nil || size != int64(len(content)) {
		t.Errorf("Stat after New = %d, %v; want %d, nil", size, err, len(content))
	}
}

// TestSharedRoot checks that a second store on the same root, such as a
// command run beside the server, leaves the first one's spool alone.
func TestSharedRoot(t *testing.T) {
	root := t.TempDir()
	first := newBlobs(t, root)
	content := []byte("in flight")
	d := digest.FromBytes(content)
	path := spool(t, first, content)

	second := newBlobs(t, root)
	if second.TempDir() == first.TempDir() {
		t.Errorf("both stores spool into %s; want a directory each", first.TempDir())
	}
	if err := first.Put(t.Context(), d, path); err != nil {
		t.Fatalf("first Put after a second New = %v; want nil", err)
	}
	checkContent(t, second, d, content)

	// Each store takes only files from its own spool.
	other := spool(t, second, []byte("other"))
	if err := first.Put(t.Context(), digest.FromString("other"), other); err == nil {
		t.Errorf("Put of another store's spool file = nil; want an error")
	}
}

// TestClose checks that Close removes the spool and its lock, that the
// blobs stay, and that a second Close is harmless.
func TestClose(t *testing.T) {
	root := t.TempDir()
	b, err := fs.New(root, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("stays")
	d := digest.FromBytes(content)
	if err := b.Put(t.Context(), d, spool(t, b, content)); err != nil {
		t.Fatal(err)
	}
	spool(t, b, []byte("abandoned"))

	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Errorf("Close #%d = %v; want nil", i+1, err)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(root, "tmp")); err != nil || len(entries) != 0 {
		t.Errorf("tmp/ after Close holds %d entries, %v; want none", len(entries), err)
	}
	checkContent(t, newBlobs(t, root), d, content)
}

// checkContent checks that b holds content under d.
func checkContent(t *testing.T, b *fs.Blobs, d digest.Digest, content []byte) {
	t.Helper()
	rc, _, err := b.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open(%s) = %v; want the blob", d, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("blob %s = %q, %v; want %q", d, got, err, content)
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
	if got := files(t, filepath.Join(root, "blobs")); len(got) != 0 {
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
	defer s.Close()
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

// TestSharedRootAcrossProcesses runs the first store in a child process:
// its spool survives a second New while it lives, and goes with the next
// New once it was killed, since the kernel drops a dead process's lock.
func TestSharedRootAcrossProcesses(t *testing.T) {
	if root := os.Getenv("FS_TEST_CHILD_ROOT"); root != "" {
		childStore(root)
		return
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSharedRootAcrossProcesses$")
	cmd.Env = append(os.Environ(), "FS_TEST_CHILD_ROOT="+root)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("read the child's spool file: %v", err)
	}
	spooled := strings.TrimSpace(line)

	newBlobs(t, root)
	if _, err := os.Stat(spooled); err != nil {
		t.Errorf("live child's spool file after a second New: %v; want it kept", err)
	}

	cmd.Process.Kill()
	cmd.Wait()
	newBlobs(t, root)
	if _, err := os.Stat(filepath.Dir(spooled)); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("killed child's spool after New: %v; want it removed", err)
	}
}

// childStore opens a store at root, spools a file, prints its path and
// waits for its stdin to close, or to be killed.
func childStore(root string) {
	b, err := fs.New(root, fs.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	path := filepath.Join(b.TempDir(), "fill-1")
	if err := os.WriteFile(path, []byte("half a layer"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
