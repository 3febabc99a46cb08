package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// compression is how a layer's tar stream is packed.
type compression string

const (
	uncompressed compression = "uncompressed"
	gzipped      compression = "gzip"
	zstandard    compression = "zstd"
)

// TODO: Windows layers (entries under Files/ and Hives/) are read like
// Linux ones, so their packages are not found; breakwater serves Linux
// images first.

// mediaTypes maps the layer media types of the OCI image spec and Docker's
// manifest v2 to the compression they declare. Foreign and nondistributable
// layers are read like the others when their bytes are present.
var mediaTypes = map[string]compression{
	"application/vnd.oci.image.layer.v1.tar":                       uncompressed,
	"application/vnd.oci.image.layer.v1.tar+gzip":                  gzipped,
	"application/vnd.oci.image.layer.v1.tar+zstd":                  zstandard,
	"application/vnd.oci.image.layer.nondistributable.v1.tar":      uncompressed,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": gzipped,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": zstandard,
	"application/vnd.docker.image.rootfs.diff.tar":                 uncompressed,
	"application/vnd.docker.image.rootfs.diff.tar.gzip":            gzipped,
	"application/vnd.docker.image.rootfs.diff.tar.zstd":            zstandard,
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":    gzipped,
}

// sniff names the compression by its magic bytes (RFC 1952 for gzip,
// RFC 8878 for zstd frames and skippable frames); anything else is read as a
// plain tar, which its own parser then checks.
func sniff(head []byte) compression {
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return gzipped
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return zstandard
	case len(head) >= 4 && head[0]&0xf0 == 0x50 && bytes.Equal(head[1:4], []byte{0x2a, 0x4d, 0x18}):
		return zstandard
	}
	return uncompressed
}

// zstdWindow bounds the memory a zstd frame may ask for. Layers made by
// containerd and BuildKit use a few MiB; only --long archives need more.
const zstdWindow = 64 << 20

// source counts and hashes the compressed bytes and keeps the error of the
// underlying reader apart, so a failing store is not mistaken for a broken
// image.
type source struct {
	ctx      context.Context
	r        io.Reader
	verifier digest.Verifier
	n        int64
	err      error
}

func (s *source) Read(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	s.verifier.Write(p[:n])
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// expanded counts the uncompressed bytes of one layer and stops a stream
// that grows past the image limit or expands too far for its size.
type expanded struct {
	r     io.Reader
	src   *source
	in    *inspection
	layer digest.Digest
	n     int64
}

func (e *expanded) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	e.in.tarBytes += int64(n)
	if e.in.tarBytes > e.in.opts.MaxImageBytes {
		return n, e.in.fail(&Error{Layer: e.layer, Reason: fmt.Sprintf("image expands past %d bytes", e.in.opts.MaxImageBytes)})
	}
	if e.n > ratioFloor && e.n > e.in.opts.MaxRatio*max(e.src.n, 1) {
		return n, e.in.fail(&Error{Layer: e.layer, Reason: fmt.Sprintf("layer expands more than %d times its compressed size", e.in.opts.MaxRatio)})
	}
	return n, err
}

// readLayer streams one layer into the inspection's tree.
func (in *inspection) readLayer(ctx context.Context, idx int, l Layer) error {
	if err := l.Digest.Validate(); err != nil {
		return &Error{Layer: l.Digest, Reason: "invalid layer digest"}
	}
	declared, ok := mediaTypes[l.MediaType]
	if !ok {
		return &Error{Layer: l.Digest, Reason: fmt.Sprintf("unsupported layer media type %q", l.MediaType)}
	}
	if l.Open == nil {
		return fmt.Errorf("open layer %s: no opener", l.Digest)
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("open layer %s: %w", l.Digest, err)
	}
	defer rc.Close()

	src := &source{ctx: ctx, r: rc, verifier: l.Digest.Verifier()}
	err = in.readStream(src, declared, idx, l.Digest)
	switch {
	case src.err != nil:
		return fmt.Errorf("read layer %s: %w", l.Digest, src.err)
	case err != nil:
		return err
	case l.Size > 0 && src.n != l.Size:
		return &Error{Layer: l.Digest, Reason: fmt.Sprintf("layer has %d bytes, its manifest says %d", src.n, l.Size)}
	case !src.verifier.Verified():
		return &Error{Layer: l.Digest, Reason: "layer content does not match its digest"}
	}
	return nil
}

// readStream decompresses src as declared, walks its tar entries and reads
// it to the end so the digest covers every byte.
func (in *inspection) readStream(src *source, declared compression, idx int, d digest.Digest) error {
	br := bufio.NewReaderSize(src, 64<<10)
	head, err := br.Peek(4)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			return &Error{Layer: d, Reason: "layer is empty"}
		}
		return err
	}
	if actual := sniff(head); actual != declared {
		return &Error{Layer: d, Reason: fmt.Sprintf("layer is %s but its media type says %s", actual, declared)}
	}

	var r io.Reader = br
	switch declared {
	case gzipped:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return streamError(d, err)
		}
		defer zr.Close()
		r = zr
	case zstandard:
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdWindow),
			zstd.WithDecoderMaxMemory(zstdWindow))
		if err != nil {
			return fmt.Errorf("start zstd decoder: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	ex := &expanded{r: r, src: src, in: in, layer: d}

	tr := tar.NewReader(ex)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return in.streamError(d, err)
		}
		if err := in.entry(idx, d, hdr, tr); err != nil {
			return in.streamError(d, err)
		}
	}

	// The tar end marker may be followed by padding; read it and whatever
	// compressed bytes are left, still under the limits.
	if _, err := io.Copy(io.Discard, ex); err != nil {
		return in.streamError(d, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return in.streamError(d, err)
	}
	return nil
}

// streamError prefers the limit the inspection already tripped, since the
// tar and decompression readers may wrap or replace it.
func (in *inspection) streamError(d digest.Digest, err error) error {
	if in.failure != nil {
		return in.failure
	}
	return streamError(d, err)
}

// localError marks a failure of this host, such as a full spool disk,
// which says nothing about the image and must not become a verdict.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// streamError turns a decoder or tar error into an inspection failure with
// a reason a person can act on, and passes the host's own failures through.
func streamError(d digest.Digest, err error) error {
	var se *Error
	var le *localError
	switch {
	case errors.As(err, &le):
		return le.err
	case errors.As(err, &se):
		return se
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Layer: d, Reason: "layer is truncated"}
	case errors.Is(err, tar.ErrFieldTooLong):
		return &Error{Layer: d, Reason: "tar header too large"}
	case errors.Is(err, tar.ErrHeader):
		return &Error{Layer: d, Reason: "invalid tar header"}
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return &Error{Layer: d, Reason: "corrupt gzip stream: " + err.Error()}
	}
	return &Error{Layer: d, Reason: "unreadable layer: " + err.Error()}
}
