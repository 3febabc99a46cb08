package registry

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"breakwater/internal/telemetry"
)

// responseWriter records the status and body size for the request log.
//
// It implements io.ReaderFrom by delegating, because that is how net/http
// reaches sendfile: http.ServeContent copies an *os.File into the writer it
// is given, and a wrapper without ReadFrom would turn the zero-copy path
// into a user-space copy loop. Unwrap lets http.ResponseController reach
// the connection for Flush and deadlines.
type responseWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// started reports whether the status line went out, after which an error
// can no longer be written as a response.
func (w *responseWriter) started() bool { return w.status != 0 }

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

// requestID returns the caller's X-Request-Id when it is short and plain,
// so a request can be followed through a front proxy, or a new random one.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, notIDChar) {
		return rand.Text()
	}
	return id
}

// notIDChar reports characters a request ID must not carry into the log.
func notIDChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return false
	}
	return c != '-' && c != '_' && c != '.'
}

// logRequest writes the one line every request gets, with err, if any,
// and at the level the caller chose for it.
func logRequest(
	log *slog.Logger,
	level slog.Level,
	r *http.Request,
	req *request,
	w *responseWriter,
	err error,
	took time.Duration,
) {
	attrs := []slog.Attr{
		slog.String(telemetry.KeyMethod, r.Method),
		slog.String(telemetry.KeyPath, r.URL.EscapedPath()),
	}
	if req.repo.Path != "" {
		attrs = append(attrs, slog.String(telemetry.KeyRepo, req.repo.String()))
	}
	switch {
	case req.ref == "":
	case req.kind == endpointManifest:
		attrs = append(attrs, slog.String(telemetry.KeyReference, req.ref))
	default:
		attrs = append(attrs, slog.String(telemetry.KeyDigest, req.ref))
	}
	if req.cache != "" {
		attrs = append(attrs, slog.String(telemetry.KeyCache, req.cache))
	}
	attrs = append(attrs,
		slog.Int(telemetry.KeyStatus, w.status),
		slog.Int64(telemetry.KeyBytes, w.bytes),
		slog.Duration(telemetry.KeyDuration, took),
		slog.String(telemetry.KeyRequestID, req.id),
	)

	if err != nil {
		attrs = append(attrs, slog.Any(telemetry.KeyError, err))
	}
	log.LogAttrs(context.WithoutCancel(r.Context()), level, "request", attrs...)
}
