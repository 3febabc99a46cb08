package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// blob serves GET and HEAD of a blob, warm from the store or cold from the
// fill in progress.
func (h *Handler) blob(w http.ResponseWriter, r *http.Request, req *request) error {
	d, err := oci.ParseDigest(req.ref)
	if err != nil {
		return badRequest(err)
	}
	if g := h.opts.Gate; g != nil {
		if err := g.Blob(r.Context(), req.repo, d); err != nil {
			return gateError(w, err)
		}
	}
	b, err := h.backend.Blob(r.Context(), req.repo, d)
	if err != nil {
		req.noteError(err)
		return err
	}
	defer b.Close()
	req.noteCache(b.Hit, false)
	if notModified(r, d) {
		// Before the Range, as ServeContent does; a stream is left to
		// its fill.
		return writeNotModified(w, d)
	}

	// A Range is checked before any header is set, so a 416 carries the
	// spec's error and not net/http's plain text, nor blob headers. Of a
	// blob whose size nobody knows yet it is ignored, as RFC 9110 allows.
	tag := etag(d)
	var ranges []byteRange
	if b.Size >= 0 {
		ranges, err = requestedRanges(r, tag, b.Size)
	}
	if err != nil {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", b.Size))
		return err
	}

	if ranges == nil && r.Header.Get("Range") != "" {
		// Ignored: ServeContent would answer a Range it cannot parse
		// with a 416 of its own.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}

	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", tag)
	if b.File != nil {
		// ServeContent handles Range and If-Range itself, and sends an
		// *os.File with sendfile as long as w implements io.ReaderFrom.
		http.ServeContent(w, r, "", time.Time{}, b.File)
		return nil
	}
	return serveStream(w, r, b, ranges)
}

// serveStream serves a cold blob from its fill. HEAD answers from the size
// alone; closing the stream leaves the fill running for whoever waits.
// A single range is served by reading up to its start and sending the
// slice. Several ranges get the whole blob with a 200, which the spec
// allows: multipart bodies from a one-way stream buy no client anything.
func serveStream(w http.ResponseWriter, r *http.Request, b *cache.Blob, ranges []byteRange) error {
	if b.Size < 0 {
		return serveUnsized(w, r, b)
	}
	hd := w.Header()
	if r.Method == http.MethodHead {
		hd.Set("Content-Length", strconv.FormatInt(b.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}

	rg, status := byteRange{start: 0, length: b.Size}, http.StatusOK
	if len(ranges) == 1 {
		rg, status = ranges[0], http.StatusPartialContent
		if _, err := io.CopyN(io.Discard, b.Stream, rg.start); err != nil {
			return fmt.Errorf("skip to range start %d: %w", rg.start, err)
		}
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.start+rg.length-1, b.Size))
	}
	hd.Set("Content-Length", strconv.FormatInt(rg.length, 10))
	w.WriteHeader(status)

	// TODO: a range ending before the blob's end is sent before the fill
	// verified the blob, so a client resuming a download in pieces could
	// join bad bytes with good ones and learn it only from its own digest
	// check; waiting for the fill would hold each such range until the
	// whole blob arrived.
	if err := copyStream(w, b.Stream, rg.length, rg.start+rg.length == b.Size); err != nil {
		return fmt.Errorf("stream blob: %w", err)
	}
	return nil
}

// serveUnsized serves a cold blob whose upstream sent no length: whole,
// and without a Content-Length, even for HEAD, rather than hold the
// response until the fill ends. A failure needs no byte held back: the
// body goes out chunked, and the aborted connection never carries the
// chunk that would end it.
func serveUnsized(w http.ResponseWriter, r *http.Request, b *cache.Blob) error {
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, b.Stream); err != nil {
		return fmt.Errorf("stream blob: %w", err)
	}
	return nil
}

// errStreamLong reports a stream with more bytes than the blob's size.
var errStreamLong = errors.New("blob stream longer than its size")

// copyStream copies n bytes of src to w. When they run to the end of the
// blob, the last byte is held back until src ends cleanly: the cache
// reports a digest mismatch at the end of the stream, and a client given
// every byte of a body has no way left to learn that it was wrong.
func copyStream(w io.Writer, src io.Reader, n int64, toEnd bool) error {
	if !toEnd || n == 0 {
		if _, err := io.CopyN(w, src, n); err != nil {
			return err
		}
		if toEnd {
			return expectEOF(src)
		}
		return nil
	}

	if _, err := io.CopyN(w, src, n-1); err != nil {
		return err
	}
	var last [1]byte
	if _, err := io.ReadFull(src, last[:]); err != nil {
		return err
	}
	if err := expectEOF(src); err != nil {
		return err
	}
	_, err := w.Write(last[:])
	return err
}

// expectEOF fails unless src ends cleanly now.
func expectEOF(src io.Reader) error {
	n, err := io.Copy(io.Discard, io.LimitReader(src, 1))
	if err != nil {
		return err
	}
	if n > 0 {
		return errStreamLong
	}
	return nil
}
