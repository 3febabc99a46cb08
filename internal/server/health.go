package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check, so a stuck store makes /readyz
// answer 503 rather than hang the prober.
const readyTimeout = 5 * time.Second

// readiness reports whether breakwater can judge images, and if not why,
// in words for operators.
type readiness func(ctx context.Context) (ok bool, reason string)

// withHealth answers /healthz and /readyz on the registry's listener and
// passes every other request to next. It switches on the path itself
// rather than using a ServeMux, which would clean and redirect the
// registry's paths.
//
//	/healthz  200 {"alive":true} while the process serves; it says nothing
//	          of readiness, so as not to contradict /readyz
//	/readyz   200 {"ready":true} when ready, else 503 with
//	          {"ready":false,"reason":...}
func withHealth(next http.Handler, ready readiness) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			writeHealth(w, http.StatusOK, alive{Alive: true})
		case "/readyz":
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			ok, reason := ready(ctx)
			status := http.StatusOK
			if !ok {
				status = http.StatusServiceUnavailable
			}
			writeHealth(w, status, health{Ready: ok, Reason: reason})
		default:
			next.ServeHTTP(w, r)
		}
	})
}

type health struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type alive struct {
	Alive bool `json:"alive"`
}

func writeHealth(w http.ResponseWriter, status int, h any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(h) // a failed write is the prober's to see
}
