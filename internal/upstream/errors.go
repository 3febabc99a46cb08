package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"breakwater/internal/oci"
)

// maxErrorBody bounds how much of an error answer is read for its codes.
const maxErrorBody = 64 << 10

// ErrTooLarge is wrapped when a remote answer exceeds the size breakwater
// accepts for it, so a hostile remote cannot make us buffer without bound.
var ErrTooLarge = errors.New("answer larger than allowed")

// StatusError is an error answer from the remote. It unwraps to the oci
// sentinel the status and the body's error codes map to, so callers use
// errors.Is(err, oci.ErrManifestUnknown) and friends.
type StatusError struct {
	Status int
	// Codes are the error codes of the remote's OCI error body, if any.
	Codes []string
	// Message is the first message of the body, shortened; for the log.
	Message string
	// After is the remote's Retry-After, 0 when it sent none.
	After time.Duration

	kind *oci.Error
}

// RetryAfter returns how long the remote asked callers to wait, so the
// registry can pass it on to a rate-limited client.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "remote answered %d", e.Status)
	if len(e.Codes) > 0 {
		fmt.Fprintf(&b, " %s", strings.Join(e.Codes, ","))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, " (%s)", e.Message)
	}
	return b.String()
}

// Unwrap returns the oci sentinel.
func (e *StatusError) Unwrap() error { return e.kind }

// IsNotFound reports whether err carries the remote's authoritative answer
// that it has no such name, manifest or blob (a 404), as opposed to a
// failure to ask it. The cache may remember such an answer but must not
// serve stale content in its place.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusNotFound
}

// notFoundCodes are the 404 codes that name what exactly is missing.
var notFoundCodes = map[string]*oci.Error{
	oci.ErrManifestUnknown.Code: oci.ErrManifestUnknown,
	oci.ErrBlobUnknown.Code:     oci.ErrBlobUnknown,
	oci.ErrNameUnknown.Code:     oci.ErrNameUnknown,
}

// statusError reads the bounded error body of resp, closes it and maps the
// answer to an oci kind. notFound is the kind a 404 without a known code
// maps to (a HEAD has no body, so it is the usual case there).
func statusError(resp *http.Response, notFound *oci.Error) *StatusError {
	defer resp.Body.Close()
	se := &StatusError{Status: resp.StatusCode}
	se.Codes, se.Message = errorBody(resp.Body)
	se.kind = kindOf(se.Status, se.Codes, notFound)
	return se
}

func kindOf(status int, codes []string, notFound *oci.Error) *oci.Error {
	switch {
	case status == http.StatusNotFound:
		for _, c := range codes {
			if k, ok := notFoundCodes[c]; ok {
				return k
			}
		}
		return notFound
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		// TODO: Docker Hub answers 401, not 404, for a repository that does
		// not exist, so such a name surfaces as denied and is never negatively
		// cached; telling the two apart needs the body's wording.
		return oci.ErrDenied
	case status == http.StatusTooManyRequests:
		return oci.ErrTooManyRequests
	default:
		// 5xx and answers that make no sense for a pull: either way the
		// remote cannot give us the content right now.
		return oci.ErrUnavailable
	}
}

// errorBody extracts the codes and first message of an OCI error body.
func errorBody(r io.Reader) (codes []string, msg string) {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	data, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	if json.Unmarshal(data, &body) != nil {
		return nil, ""
	}
	for _, e := range body.Errors {
		codes = append(codes, e.Code)
		if msg == "" {
			msg = e.Message
		}
	}
	const maxMsg = 200
	if len(msg) > maxMsg {
		msg = msg[:maxMsg] + "..."
	}
	return codes, msg
}

// unavailable marks err, a failure to get an answer at all, as
// oci.ErrUnavailable while keeping it in the chain.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", oci.ErrUnavailable, err)
}
