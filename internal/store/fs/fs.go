// Package fs keeps blobs as plain files, so that a warm blob is an *os.File
// that net/http sends with sendfile. Its layout under the root directory:
//
//	<root>/                    mode 0700 when New creates it
//	  blobs/sha256/
//	    00/ ... ff/            fan-out by the first two hex digits, so no
//	                           directory grows past a few thousand entries
//	      00a1...              one read-only file per blob, named by the
//	                           digest's 64 hex digits
//	  tmp/                     spools for incoming bytes; Put renames from
//	                           there, atomic because it is the same
//	                           filesystem
//	    spool-123.lock         one per open Blobs, flock(2)ed exclusively
//	                           for as long as its owner lives
//	    spool-123/             that owner's spool, what TempDir returns
//
// A path is only ever built from a digest that passed the sha256 check in
// path, never from a caller's string as is.
//
// Several processes may share a root (the server and a command run beside
// it): each spools into its own directory and touches no other live one.
// New removes the spools whose lock it can take, since their owner is gone
// (a crash), and Close removes the caller's own. The lock is advisory and
// only as good as flock(2) on the filesystem holding the root.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
)

// Blob files are read-only for everyone: content-addressed bytes never
// change, so a process opening one for writing is a bug the kernel should
// stop. The files are as readable as their directories allow; who may read
// the store is decided by the root directory's mode (New creates it 0700).
const (
	blobMode = 0o444
	dirMode  = 0o755
)

// Options configure Blobs. The zero value is durable.
type Options struct {
	// NoSync skips the fsync of each blob and of its directory in Put.
	// Syncing costs a disk flush per blob (milliseconds on SSDs, more on
	// disks, longer for large blobs still in the page cache); without it a
	// power loss can leave an empty or partial file under a digest's name
	// that Stat reports as present. Tests and benchmarks may set it.
	NoSync bool
}

// Blobs is a store.Blobs on a local filesystem. It is safe for concurrent
// use; its zero value is not usable, call New, and Close it when done.
type Blobs struct {
	blobs string // <root>/blobs/sha256
	spool *spool // this instance's directory under <root>/tmp
	opts  Options
}

var _ store.Blobs = (*Blobs)(nil)

// New opens or creates the store rooted at root, claims a spool directory
// of its own and removes those that owners gone before left behind.
func New(root string, opts Options) (*Blobs, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve blob store root: %w", err)
	}
	b := &Blobs{blobs: filepath.Join(root, "blobs", "sha256"), opts: opts}
	tmp := filepath.Join(root, "tmp")

	// Create the root with its own mode; dirMode would let every local
	// user read the blobs. An existing root keeps its mode.
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create blob store root: %w", err)
	}
	for _, dir := range []string{b.blobs, tmp} {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("create blob store directory: %w", err)
		}
	}
	b.spool, err = claimSpool(tmp)
	if err != nil {
		return nil, err
	}
	if err := reapSpools(tmp, b.spool); err != nil {
		b.spool.release()
		return nil, err
	}
	return b, nil
}

// TempDir returns this instance's spool directory under <root>/tmp.
func (b *Blobs) TempDir() string { return b.spool.dir }

// Close removes the spool directory, with any file still in it, and
// releases its lock. The blobs stay; Put fails after Close.
func (b *Blobs) Close() error {
	return b.spool.release()
}

// Stat returns the size of blob d.
func (b *Blobs) Stat(ctx context.Context, d digest.Digest) (int64, error) {
	path, err := b.path(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", d, notFound(err))
	}
	return fi.Size(), nil
}

// Open returns blob d as an *os.File, with its size.
func (b *Blobs) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, int64, error) {
	path, err := b.path(d)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open blob %s: %w", d, notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return f, fi.Size(), nil
}

// Put renames the file at path, which must be a regular file under TempDir,
// to d's place. It does not read the file: the caller has verified it.
func (b *Blobs) Put(ctx context.Context, d digest.Digest, path string) error {
	if err := b.checkTemp(path); err != nil {
		return err
	}
	err := b.put(d, path)
	if err != nil {
		// Put consumes the file even when it fails, so a failed fill
		// leaves nothing behind in the spool.
		os.Remove(path)
	}
	return err
}

// put does Put's work once path is known to be a file in the spool.
func (b *Blobs) put(d digest.Digest, path string) error {
	dst, err := b.path(d)
	if err != nil {
		return err
	}

	// 1. Already present: the bytes are the same by construction.
	if _, err := os.Stat(dst); err == nil {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove duplicate of blob %s: %w", d, err)
		}
		return nil
	}

	// 2. Make the file read-only and durable before it gets its name, so
	// the name never points at bytes that a crash could lose.
	if err := os.Chmod(path, blobMode); err != nil {
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	if !b.opts.NoSync {
		if err := syncPath(path); err != nil {
			return fmt.Errorf("sync blob %s: %w", d, err)
		}
	}

	// 3. Rename into place. Two Puts of one digest may race here; rename
	// replaces atomically and both files hold the same bytes.
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	if err := os.Rename(path, dst); err != nil {
		return fmt.Errorf("put blob %s: %w", d, err)
	}

	// 4. Sync the directory so the new name survives a crash too.
	// TODO: a fan-out directory created just now is not synced into its
	// parent, so a crash right after the first Put into it can lose that
	// blob's name; the blob is then fetched again, nothing worse.
	if !b.opts.NoSync {
		if err := syncPath(dir); err != nil {
			return fmt.Errorf("sync blob directory %s: %w", dir, err)
		}
	}
	return nil
}

// Delete removes blob d; a missing blob is not an error.
func (b *Blobs) Delete(ctx context.Context, d digest.Digest) error {
	path, err := b.path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// path returns where blob d lives. It is the only place a blob path is
// made, and it accepts nothing but "sha256:" and 64 lower-case hex digits,
// so no digest can name a path outside blobs/.
func (b *Blobs) path(d digest.Digest) (string, error) {
	hex, ok := strings.CutPrefix(string(d), "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("blob digest %q is not a sha256 digest: %w", d, oci.ErrDigestInvalid)
	}
	return filepath.Join(b.blobs, hex[:2], hex), nil
}

// checkTemp refuses a path that is not a regular file directly or deeper
// under this instance's spool directory. It compares cleaned absolute
// paths, and it refuses symbolic links, which a rename would move as links
// and Open would then follow out of the store. It does not cover a
// directory inside the spool being swapped for a link between this check
// and the rename; only this instance writes there.
func (b *Blobs) checkTemp(path string) error {
	dir := b.TempDir()
	rel, err := filepath.Rel(dir, filepath.Clean(path))
	if err != nil || !filepath.IsAbs(path) || rel == "." || !filepath.IsLocal(rel) {
		return fmt.Errorf("put blob from %s: not under the temporary directory %s", path, dir)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("put blob from %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		os.Remove(path)
		return fmt.Errorf("put blob from %s: not a regular file", path)
	}
	return nil
}

// syncPath fsyncs a file or directory.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// notFound turns a missing file into store.ErrNotFound and leaves other
// errors as they are.
func notFound(err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return store.ErrNotFound
	}
	return err
}
