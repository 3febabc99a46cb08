package registry

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"breakwater/internal/oci"
)

// errNoRoute answers paths breakwater has no endpoint for. The spec has no
// code for that; UNSUPPORTED is the closest, with a 404 because the path,
// not the method, is what is wrong.
var errNoRoute = &oci.Error{
	Code:    oci.ErrUnsupported.Code,
	Status:  http.StatusNotFound,
	Message: "no such endpoint",
}

// errInternal is what a client sees of an error that wraps no oci.Error.
var errInternal = &oci.Error{
	Code:    "UNKNOWN",
	Status:  http.StatusInternalServerError,
	Message: "internal server error",
}

// requestError marks an error caused by the request itself, whose text only
// echoes what the client sent and so may be returned as the detail.
// Everything else keeps its text in the log: it may carry upstream detail.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func badRequest(err error) error { return &requestError{err} }

// retryAfter is implemented by errors that know when the upstream will take
// requests again, such as a 429 with a Retry-After header.
type retryAfter interface {
	RetryAfter() time.Duration
}

// retryAfterOf returns how long a rate-limited client should wait, or 0
// when err is no 429 or does not know.
func retryAfterOf(err error) time.Duration {
	var ra retryAfter
	if !errors.Is(err, oci.ErrTooManyRequests) || !errors.As(err, &ra) {
		return 0
	}
	return ra.RetryAfter()
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

// writeError writes err in the spec's JSON form and returns the oci.Error
// it was written as; errInternal means err wraps none.
func writeError(w http.ResponseWriter, err error) *oci.Error {
	e := oci.AsError(err)
	if e == nil {
		e = errInternal
	}
	entry := errorEntry{Code: e.Code, Message: e.Message}
	if re := (*requestError)(nil); errors.As(err, &re) {
		entry.Detail = re.Error()
	}

	h := w.Header()
	if wait := retryAfterOf(err); wait > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{entry}})
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
	return e
}
