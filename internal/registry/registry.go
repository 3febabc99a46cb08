// Package registry is breakwater's OCI Distribution Spec v1.1 HTTP surface,
// pull side: it parses names and references, routes a name to the upstream
// that serves it, negotiates manifest media types, serves blobs with Range
// and answers every failure in the spec's error format. It knows nothing of
// where bytes come from: a Backend (the cache) supplies them, and an
// optional Gate (the firewall) may withhold them.
//
// Endpoints:
//
//	GET       /v2/
//	GET, HEAD /v2/<name>/manifests/<reference>
//	GET, HEAD /v2/<name>/blobs/<digest>
//	GET       /v2/<name>/tags/list?n=&last=
//	GET       /v2/<name>/referrers/<digest>?artifactType=
//	GET       /v2/_catalog?n=&last=
//	GET       /v1/search?q=&n=&page=   (when a Searcher is configured)
//
// Every endpoint also answers HEAD; other methods get 405 UNSUPPORTED, as
// breakwater takes no pushes.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

// Backend supplies what the handler serves; *cache.Cache implements it.
// Errors wrap oci sentinels, which pick the code and status the client
// sees; any other error is a 500.
type Backend interface {
	Manifest(ctx context.Context, repo cache.Repo, ref oci.Reference) (*cache.Manifest, error)
	Blob(ctx context.Context, repo cache.Repo, d digest.Digest) (*cache.Blob, error)
	Tags(ctx context.Context, repo cache.Repo, last string, n int) ([]string, error)
	Referrers(ctx context.Context, repo cache.Repo, d digest.Digest, artifactType string) ([]byte, error)
	Catalog(ctx context.Context, last string, n int) ([]string, error)
}

var _ Backend = (*cache.Cache)(nil)

// Searcher answers Docker's V1 search; *upstream.Client implements it.
type Searcher interface {
	Search(ctx context.Context, searchURL string, query string) ([]byte, error)
}

// Options configure a Handler. The zero value works: no search, no logs.
type Options struct {
	// Search and SearchURL proxy /v1/search to an index such as
	// https://index.docker.io/v1/search. Without Search the path is a 404.
	Search    Searcher
	SearchURL string
	// Logger gets one line per request; nil discards.
	Logger *slog.Logger
	// Gate, when set, decides whether each manifest and blob may be served
	// (the firewall); nil serves everything the backend has.
	Gate Gate
	// Pulls, when set, is told of every manifest GET answered with a
	// manifest or withheld by the Gate (the pull log).
	Pulls PullRecorder
	// Metrics counts how the cache answered manifests and blobs, the
	// bytes served and the pulls; nil counts nothing.
	Metrics *telemetry.Metrics
}

// PullRecorder hears of manifest GETs (never HEADs) once they are
// answered: m is the manifest served or withheld (for an index answered
// with its linux/amd64 entry, that entry), err the Gate's refusal or nil.
// It must not block: it runs on the request's goroutine.
type PullRecorder interface {
	Pulled(ctx context.Context, repo cache.Repo, ref oci.Reference, m *cache.Manifest, err error)
}

// Gate decides whether content may be served. An error it returns is
// written instead of the content; one that implements QuarantineID()
// string with a non-empty result also sets QuarantineHeader, so clients
// that only send HEAD learn the id.
type Gate interface {
	// Manifest is called after a manifest was resolved and before any
	// byte of it is written, for GET and HEAD alike, with the manifest
	// actually served (for an index answered with its linux/amd64 entry,
	// that entry).
	Manifest(ctx context.Context, repo cache.Repo, ref oci.Reference, m *cache.Manifest) error
	// Blob is called before a blob is fetched or served.
	Blob(ctx context.Context, repo cache.Repo, d digest.Digest) error
}

// QuarantineHeader carries the quarantine id of a withheld image.
const QuarantineHeader = "Breakwater-Quarantine-Id"

// gateError sets QuarantineHeader for an error from the Gate and returns it.
func gateError(w http.ResponseWriter, err error) error {
	var q interface{ QuarantineID() string }
	if errors.As(err, &q) && q.QuarantineID() != "" {
		w.Header().Set(QuarantineHeader, q.QuarantineID())
	}
	return err
}

// Handler serves the registry API. It is safe for concurrent use.
type Handler struct {
	backend Backend
	router  *Router
	opts    Options
	log     *slog.Logger
}

// New returns a Handler serving backend's content under the names router
// maps.
func New(backend Backend, router *Router, opts Options) *Handler {
	return &Handler{
		backend: backend,
		router:  router,
		opts:    opts,
		log:     telemetry.OrDiscard(opts.Logger),
	}
}

// apiVersionHeader tells Docker clients this is a v2 registry; they check it
// on /v2/ and it costs nothing to send it everywhere under /v2.
const apiVersionHeader = "Docker-Distribution-API-Version"

// ServeHTTP serves one request. Handlers return errors and this is the one
// place they are written and logged. An error after the status line went
// out can only be signalled by aborting the connection, so a client never
// mistakes a cut stream for a complete body.
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &responseWriter{ResponseWriter: rw}
	req := parsePath(r.URL.EscapedPath())
	req.id = requestID(r)
	w.Header().Set("X-Request-Id", req.id)

	err := h.serve(w, r, &req)
	level, aborted := slog.LevelInfo, false
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		// The client went away: nothing for an operator to act on, and
		// nobody reads an answer, which is written only for the log's status.
		if !w.started() {
			writeError(w, err)
		}
		aborted = w.started()
	case w.started():
		level, aborted = slog.LevelWarn, true
	default:
		switch e := writeError(w, err); {
		case e == errInternal:
			level = slog.LevelError
		case e.Status >= 500 || e.Status == http.StatusTooManyRequests:
			level = slog.LevelWarn
		}
	}
	logRequest(h.log, level, r, &req, w, err, time.Since(start))
	countRequest(h.opts.Metrics, r, &req, w)
	if aborted {
		panic(http.ErrAbortHandler)
	}
}

// serve checks the method and the name and calls the endpoint's handler.
func (h *Handler) serve(w *responseWriter, r *http.Request, req *request) error {
	if p := r.URL.EscapedPath(); p == "/v2" || strings.HasPrefix(p, "/v2/") {
		w.Header().Set(apiVersionHeader, "registry/2.0")
	}
	if req.kind == endpointUnknown {
		return errNoRoute
	}
	if req.kind == endpointUpload {
		// An empty Allow says no method is allowed (RFC 9110, section 10.2.1).
		w.Header().Set("Allow", "")
		return badRequest(fmt.Errorf("blob uploads: breakwater serves pulls only: %w", oci.ErrUnsupported))
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return badRequest(fmt.Errorf("method %s: breakwater serves pulls only: %w", r.Method, oci.ErrUnsupported))
	}

	switch req.kind {
	case endpointBase:
		return writeJSON(w, r, struct{}{})
	case endpointCatalog:
		return h.catalog(w, r)
	case endpointSearch:
		return h.search(w, r)
	}

	if err := validateName(req.name); err != nil {
		return err
	}
	repo, err := h.router.Route(req.name, r.URL.Query().Get("ns"))
	if err != nil {
		return err
	}
	req.repo = repo

	switch req.kind {
	case endpointManifest:
		return h.manifest(w, r, req)
	case endpointBlob:
		return h.blob(w, r, req)
	case endpointTags:
		return h.tags(w, r, req)
	default:
		return h.referrers(w, r, req)
	}
}

// writeJSON writes v as a 200 JSON body.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeBody(w, r, "application/json", body)
}

// writeBody writes a 200 with body and its length, and no body for HEAD.
func writeBody(w http.ResponseWriter, r *http.Request, contentType string, body []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}
