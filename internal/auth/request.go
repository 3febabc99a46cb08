package auth

import (
	"errors"
	"net"
	"net/http"
	"strings"
)

// Request returns who made r, for the admin API and the dashboard, from
// the first of:
//
//   - an Authorization header: "Bearer <api token>", or Basic with a user
//     name and that user's password or API token (rate limited per client
//     address and user like Login, and a refusal logged as the
//     registry logs one);
//   - the session cookie SessionCookie.
//
// A request with none of them, or whose first one is not valid, gets
// ErrBadCredentials (or a *RateLimitError); a header that is present is
// never passed over for the cookie. For Via session the caller must still
// check the session's CSRF token on state-changing requests: a browser
// sends the cookie with any site's forms.
func (s *Service) Request(r *http.Request) (Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			id, ok := parseToken(cred)
			if !ok {
				return Principal{}, ErrBadCredentials
			}
			return s.checkToken(ctx, id, cred, "")
		case strings.EqualFold(scheme, "Basic"):
			user, pass, ok := r.BasicAuth()
			if !ok {
				return Principal{}, ErrBadCredentials
			}
			p, err := s.AuthenticateClient(ctx, user, pass, ClientAddr(r))
			if errors.Is(err, ErrBadCredentials) {
				s.logBasicRefused(r, user)
			}
			return p, err
		}
		return Principal{}, ErrBadCredentials
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		p, _, err := s.Session(ctx, c.Value)
		return p, err
	}
	return Principal{}, ErrBadCredentials
}

// ClientAddr is the address rate limits key on: the connection's remote
// IP. Forwarded headers are not trusted, as anyone can send them.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
