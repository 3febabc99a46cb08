package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

// A fill copies one cold blob from the upstream into a temporary file under
// Blobs.TempDir, hashing it on the way, while any number of readers follow
// the writer, each through its own file descriptor at its own offset. Memory
// therefore does not grow with the blob's size or the number of readers.
//
// A fill belongs to no request: it runs on a detached context, so the client
// that started it may go away. It ends in one of two ways:
//
//   - verified: size and sha256 match, the file is Put into the store and
//     recorded in Meta, and then readers see io.EOF once they caught up;
//   - failed: the temporary file is removed and every reader's next Read
//     returns the error, never io.EOF, so a client's response is cut short
//     instead of looking complete.
//
// Open readers keep working across the rename (or unlink) of the file,
// because on POSIX systems an open descriptor outlives the name.
type fill struct {
	repo Repo
	d    digest.Digest

	// started is closed when size and path are set, or when the fill
	// failed before creating its file (done and err are then set).
	started chan struct{}
	size    int64 // from the upstream's Content-Length, -1 if unknown
	path    string

	// mu guards written, done and err; cond, on mu, announces changes.
	// The file is renamed or removed only with mu held, so a reader that
	// sees !done under mu can still open path.
	mu      sync.Mutex
	cond    *sync.Cond
	written int64
	done    bool
	err     error
}

func newFill(repo Repo, d digest.Digest) *fill {
	f := &fill{repo: repo, d: d, size: -1, started: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// fillKey keys fills by repository as well as digest: a repository's blob
// request must be answered by that repository's upstream, not by another
// repository that happens to be fetching the same bytes.
func fillKey(repo Repo, d digest.Digest) string { return repo.String() + "@" + d.String() }

// fillBlob starts the fill of d, or joins the one in flight, and returns a
// stream that follows it.
func (c *Cache) fillBlob(ctx context.Context, up Upstream, repo Repo, d digest.Digest) (*Blob, error) {
	f, err := c.startFill(ctx, up, repo, d)
	if err != nil {
		return nil, err
	}
	select {
	case <-f.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.join(ctx, f)
}

// startFill returns the fill of d in repo, starting it if none is in flight.
func (c *Cache) startFill(ctx context.Context, up Upstream, repo Repo, d digest.Digest) (*fill, error) {
	key := fillKey(repo, d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.fills[key]; ok && !f.failed() {
		return f, nil
	}
	if c.closing.Err() != nil {
		return nil, fmt.Errorf("fill blob %s: cache closed: %w", d, oci.ErrUnavailable)
	}
	f := newFill(repo, d)
	c.fills[key] = f
	fctx, cancel := c.detach(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		c.runFill(fctx, up, f)
		c.mu.Lock()
		if c.fills[key] == f {
			delete(c.fills, key)
		}
		c.mu.Unlock()
	}()
	return f, nil
}

// join returns a reader of f for one waiter.
func (c *Cache) join(ctx context.Context, f *fill) (*Blob, error) {
	f.mu.Lock()
	done, err := f.done, f.err
	if done {
		f.mu.Unlock()
		if err != nil {
			return nil, err
		}
		// Filled before this waiter got here: served from the store, but
		// still a miss, since it took an upstream request.
		b, err := c.openStored(ctx, f.repo, f.d)
		if b != nil {
			b.Hit = false
		}
		return b, err
	}
	file, err := os.Open(f.path)
	f.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("open partial blob %s: %w", f.d, err)
	}
	r := &fillReader{f: f, file: file, ctx: ctx}
	r.stop = context.AfterFunc(ctx, f.wake)
	return &Blob{Size: f.size, Stream: r}, nil
}

// runFill copies, verifies and commits f, then releases its readers.
func (c *Cache) runFill(ctx context.Context, up Upstream, f *fill) {
	var err error
	switch {
	case c.stored(ctx, f.repo, f.d):
		// A fill that ended between the caller's look at the store and
		// this one's start has stored it: the waiters open it from there.
		c.abortFill(f, nil)
	default:
		err = c.copyFill(ctx, up, f)
		if err == nil {
			c.commitFill(ctx, f)
		} else {
			c.abortFill(f, err)
		}
	}
	select {
	case <-f.started:
		// Readers may be half way through a response that can now only be
		// cut short, which is all the HTTP layer can say; the cause is
		// logged here.
		if err != nil {
			c.log.Warn("blob fill failed",
				telemetry.KeyUpstream, f.repo.Upstream,
				telemetry.KeyRepo, f.repo.String(),
				telemetry.KeyDigest, f.d.String(),
				telemetry.KeyError, err)
		}
	default:
		// Failed before the file existed: the waiters get the error
		// before any response is written, so they report it.
		close(f.started)
	}
}

// copyFill opens the blob upstream and copies it into the temporary file,
// returning an error unless the bytes match f.d in size and digest.
func (c *Cache) copyFill(ctx context.Context, up Upstream, f *fill) error {
	body, size, err := up.Blob(ctx, f.repo.Path, f.d)
	if err != nil {
		c.rememberNotFound(f.repo, "", err)
		return fmt.Errorf("fetch blob %s of %s: %w", f.d, f.repo, err)
	}
	defer body.Close()
	limit := c.opts.MaxBlobSize
	if size > limit {
		return fmt.Errorf("fetch blob %s of %s: declared %d bytes: %w",
			f.d, f.repo, size, c.errTooLarge())
	}
	tmp, err := os.CreateTemp(c.opts.Blobs.TempDir(), "fill-*")
	if err != nil {
		return fmt.Errorf("create blob spool file: %w", err)
	}
	defer tmp.Close()
	f.size, f.path = size, tmp.Name()
	close(f.started)

	// Read one byte past a declared size, so a body longer than its
	// Content-Length is caught as well as a shorter one, and past the
	// limit when there is none.
	if size >= 0 {
		limit = size
	}
	verifier := f.d.Verifier()
	n, err := io.Copy(&fillWriter{f: f, file: tmp, hash: verifier}, io.LimitReader(body, limit+1))
	var werr *spoolError
	switch {
	case errors.As(err, &werr):
		return fmt.Errorf("write blob spool file: %w", werr.err)
	case err != nil:
		return fmt.Errorf("copy blob %s from %s: %w", f.d, f.repo.Upstream, unavailable(err))
	}
	if size < 0 && n > limit {
		return fmt.Errorf("copy blob %s from %s: %w", f.d, f.repo.Upstream, c.errTooLarge())
	}
	if size >= 0 && n != size {
		return fmt.Errorf("copy blob %s from %s: got %d bytes, want %d: %w",
			f.d, f.repo.Upstream, n, size, oci.ErrUnavailable)
	}
	if !verifier.Verified() {
		return fmt.Errorf("verify blob %s from %s: content does not match digest: %w",
			f.d, f.repo.Upstream, oci.ErrUnavailable)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write blob spool file: %w", err)
	}
	return nil
}

// errTooLarge is what a client is told of a blob above MaxBlobSize: a
// refusal by this registry, which no retry cures.
func (c *Cache) errTooLarge() error {
	msg := fmt.Sprintf("blob larger than the %d bytes this registry allows", c.opts.MaxBlobSize)
	return oci.ErrDenied.WithMessage(msg)
}

// unavailable makes sure err, a failure to read from the upstream, is of
// the kind oci.ErrUnavailable.
func unavailable(err error) error {
	if oci.AsError(err) != nil {
		return err
	}
	return fmt.Errorf("%w: %w", err, oci.ErrUnavailable)
}

// commitFill moves the verified file into the store and records it, then
// releases the readers. A failure to store is logged, not given to the
// readers: the bytes they read were verified, only the cache missed out.
func (c *Cache) commitFill(ctx context.Context, f *fill) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := c.opts.Blobs.Put(ctx, f.d, f.path)
	if err == nil {
		err = c.opts.Meta.PutBlob(ctx, f.repo.String(), f.d, f.written)
	}
	if err != nil {
		c.log.Error("store blob failed",
			telemetry.KeyRepo, f.repo.String(),
			telemetry.KeyDigest, f.d.String(),
			telemetry.KeyError, err)
	}
	f.done = true
	f.cond.Broadcast()
}

// abortFill removes the partial file, if any, and ends f with err: every
// reader fails with it, or with nil opens the blob from the store.
func (c *Cache) abortFill(f *fill, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path != "" {
		os.Remove(f.path)
	}
	f.done, f.err = true, err
	f.cond.Broadcast()
}

// failed reports whether f ended in an error. A request arriving then
// starts a new fill instead of inheriting a failure it did not witness.
func (f *fill) failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done && f.err != nil
}

// wake lets readers re-check their context.
func (f *fill) wake() {
	f.mu.Lock()
	f.cond.Broadcast()
	f.mu.Unlock()
}

// fillWriter writes to the spool file and the hash, then announces the
// new length to the readers.
type fillWriter struct {
	f    *fill
	file *os.File
	hash io.Writer
}

// spoolError is a local write failure, which is not the upstream's fault.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return e.err.Error() }

func (w *fillWriter) Write(p []byte) (int, error) {
	n, err := w.file.Write(p)
	if err != nil {
		err = &spoolError{err}
	}
	w.hash.Write(p[:n])
	w.f.mu.Lock()
	w.f.written += int64(n)
	w.f.cond.Broadcast()
	w.f.mu.Unlock()
	return n, err
}

// fillReader reads a fill's file as it grows. It is not safe for concurrent
// use, like any reader; its Read blocks while it has caught up with the
// writer, until more bytes arrive, the fill ends or ctx ends.
type fillReader struct {
	f    *fill
	file *os.File
	off  int64
	ctx  context.Context
	stop func() bool
}

func (r *fillReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f := r.f
	f.mu.Lock()
	for r.off >= f.written && !f.done && r.ctx.Err() == nil {
		f.cond.Wait()
	}
	written, done, ferr := f.written, f.done, f.err
	f.mu.Unlock()

	switch {
	case ferr != nil:
		return 0, ferr
	case r.off < written:
		p = p[:min(int64(len(p)), written-r.off)]
		n, err := r.file.ReadAt(p, r.off)
		r.off += int64(n)
		if err == io.EOF {
			// The writer announced these bytes, so a short read means the
			// file changed under us; never let that look like the end.
			err = io.ErrUnexpectedEOF
		}
		return n, err
	case done:
		return 0, io.EOF
	default:
		return 0, r.ctx.Err()
	}
}

// Close releases the reader's descriptor. The fill goes on for the others.
func (r *fillReader) Close() error {
	r.stop()
	return r.file.Close()
}

// stored reports whether repo is known to hold d and the bytes are there.
func (c *Cache) stored(ctx context.Context, repo Repo, d digest.Digest) bool {
	if c.opts.Meta.HasBlob(ctx, repo.String(), d) != nil {
		return false
	}
	_, err := c.opts.Blobs.Stat(ctx, d)
	return err == nil
}

// openStored opens d from the store.
func (c *Cache) openStored(ctx context.Context, repo Repo, d digest.Digest) (*Blob, error) {
	file, size, err := c.opts.Blobs.Open(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("open blob %s of %s: %w", d, repo, err)
	}
	c.touched.touch(ctx, d)
	return &Blob{Size: size, File: file, Hit: true}, nil
}
