package oci

import (
	"errors"
	"net/http"
)

// Error is one of the spec's error codes with the HTTP status it travels
// with. Deeper layers wrap the sentinels below with their own context
// ("fetch manifest library/node:20: %w"); the HTTP layer finds the sentinel
// with errors.As and writes its code and public Message, never the wrapped
// text, so upstream detail and credentials stay in the log.
type Error struct {
	Code    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is makes every Error with the same code match, so a copy carrying a
// different message (WithMessage) still satisfies errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithMessage returns a copy of e with a different public message.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// The closed set of errors breakwater answers with. The first group is the
// spec's; Unavailable is the code distribution uses when a backend is down.
var (
	ErrBlobUnknown        = &Error{"BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"}
	ErrDigestInvalid      = &Error{"DIGEST_INVALID", http.StatusBadRequest, "invalid digest or digest does not match content"}
	ErrManifestUnknown    = &Error{"MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown"}
	ErrManifestInvalidRef = &Error{"MANIFEST_INVALID", http.StatusBadRequest, "manifest reference invalid"}
	ErrNameInvalid        = &Error{"NAME_INVALID", http.StatusBadRequest, "invalid repository name"}
	ErrNameUnknown        = &Error{"NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"}
	ErrUnauthorized       = &Error{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	ErrDenied             = &Error{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	ErrUnsupported        = &Error{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	ErrTooManyRequests    = &Error{"TOOMANYREQUESTS", http.StatusTooManyRequests, "too many requests"}
	ErrPaginationInvalid  = &Error{"PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"}
	ErrRangeInvalid       = &Error{"RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable, "invalid content range"}
	ErrUnavailable        = &Error{"UNAVAILABLE", http.StatusServiceUnavailable, "upstream registry unavailable"}
)

// AsError returns the Error err wraps, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
