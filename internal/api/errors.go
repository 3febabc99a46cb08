package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// apiError is an error with the status and code it answers with.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, format string, args ...any) error {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// errorBody is every error's JSON.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// fail answers err with the status its kind calls for. Only an error of
// none of the known kinds is a 500, and its detail goes to the log, not
// the client.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var tooBig *http.MaxBytesError
	var limited *auth.RateLimitError
	switch {
	case errors.As(err, &ae):
		if ae.status == http.StatusUnauthorized {
			challenge(w)
		}
		writeError(w, ae.status, ae.code, ae.message)
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", fmt.Sprintf("the body is larger than %d bytes", maxBody))
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(int(limited.RetryAfter().Seconds())))
		writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "too many failed attempts; try again later")
	case errors.Is(err, auth.ErrRateLimited):
		writeError(w, http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "too many failed attempts; try again later")
	case errors.Is(err, auth.ErrBadCredentials):
		challenge(w)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "missing or invalid credentials: send a session cookie, a Bearer API token or Basic credentials")
	case errors.Is(err, admin.ErrForbidden):
		writeError(w, http.StatusForbidden, "FORBIDDEN", err.Error())
	case errors.Is(err, admin.ErrInvalid), errors.Is(err, auth.ErrInvalid),
		errors.Is(err, firewall.ErrInvalid), errors.Is(err, store.ErrInvalidFilter):
		writeError(w, http.StatusBadRequest, "INVALID", err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "NOT_FOUND", err.Error())
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, "CONFLICT", err.Error())
	case errors.Is(err, admin.ErrUnavailable):
		writeError(w, http.StatusConflict, "UNAVAILABLE", err.Error())
	default:
		h.log.ErrorContext(r.Context(), "api request failed", telemetry.KeyMethod, r.Method,
			telemetry.KeyPath, r.URL.Path, telemetry.KeyError, err)
		writeError(w, http.StatusInternalServerError, "INTERNAL", "internal error; the server log has the details")
	}
}

// challenge tells a client how to authenticate. Bearer first, so a
// browser opening the API does not pop up a password dialog.
func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="breakwater"`)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusNoContent {
		return
	}
	json.NewEncoder(w).Encode(v) // a failed write is the client's to see
}
