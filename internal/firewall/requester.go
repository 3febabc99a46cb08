package firewall

import (
	"context"
	"net"
	"net/http"
)

// Requester is who makes a request: the authenticated user, empty when
// anonymous or when the listener does not authenticate, and the client's
// address.
type Requester struct {
	User    string
	Address string
}

// Name is what a quarantine record keeps as RequestedBy: the user if
// known, else the address.
func (r Requester) Name() string {
	if r.User != "" {
		return r.User
	}
	return r.Address
}

// requestKey carries a *request in a context.
type requestKey struct{}

// request is what one registry request carries: who makes it, and the
// outcome the gate reached for the manifest it asked for, which the pull
// log reads once the registry has answered. Both are used by the request's
// own goroutine only.
type request struct {
	who     Requester
	outcome outcome
}

// outcome is the gate's answer to one manifest request.
type outcome struct {
	// result is the verdict the request was answered by: a policy result,
	// or ResultOff, ResultNotInspected, ResultInspecting; empty if the
	// gate did not decide (an index, or no gate).
	result string
	// waived says a waiver served an image its result withholds.
	waived bool
}

// Results of a pull beside the policy results.
const (
	// ResultOff: the firewall is off for the repository.
	ResultOff = "off"
	// ResultNotInspected: served (audit mode) or refused without a
	// verdict: no vulnerability data, or the inspection failed to finish.
	ResultNotInspected = "not-inspected"
	// ResultInspecting: refused while the inspection goes on.
	ResultInspecting = "inspecting"
)

// WithRequester returns ctx naming who makes the request; the first
// requester of an image is kept in its quarantine record, and every pull
// is logged under it.
func WithRequester(ctx context.Context, who Requester) context.Context {
	return context.WithValue(ctx, requestKey{}, &request{who: who})
}

// RequesterOf returns who WithRequester named, and whether it was named.
func RequesterOf(ctx context.Context) (Requester, bool) {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return Requester{}, false
	}
	return r.who, true
}

// noteOutcome records the gate's answer for the pull log, if ctx carries
// a request.
func noteOutcome(ctx context.Context, o outcome) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		r.outcome = o
	}
}

// outcomeOf returns what noteOutcome recorded.
func outcomeOf(ctx context.Context) outcome {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		return r.outcome
	}
	return outcome{}
}

// Requesters wraps h so that the firewall and the pull log learn who makes
// each request: the client's address, and the user a handler outside it
// named with WithRequester, which it keeps. Wrap the registry handler with
// it whether or not the firewall is on, as the pull log needs it too.
func Requesters(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, _ := RequesterOf(r.Context())
		if who.Address == "" {
			who.Address = r.RemoteAddr
			if host, _, err := net.SplitHostPort(who.Address); err == nil {
				who.Address = host
			}
		}
		h.ServeHTTP(w, r.WithContext(WithRequester(r.Context(), who)))
	})
}
