package auth

import (
	"errors"
	"net/http"
	"strings"

	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

// target is what a registry request asks for, read from its path the way
// the registry reads it: the repository name is everything between /v2/
// and the last two segments, as the client sent it (escaped form).
type target struct {
	kind targetKind
	name string
}

type targetKind int

const (
	targetOther   targetKind = iota // /v2/, /v1/search, unknown paths
	targetRepo                      // manifests, blobs, tags, referrers
	targetCatalog                   // /v2/_catalog
)

func parseTarget(escapedPath string) target {
	if escapedPath == "/v2/_catalog" {
		return target{kind: targetCatalog}
	}
	rest, ok := strings.CutPrefix(escapedPath, "/v2/")
	if !ok {
		return target{}
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	if n < 3 {
		return target{}
	}
	switch kind, ref := segs[n-2], segs[n-1]; {
	case kind == "tags" && ref == "list", kind == "manifests", kind == "blobs", kind == "referrers":
		return target{kind: targetRepo, name: strings.Join(segs[:n-2], "/")}
	}
	return target{} // uploads and the like: refused as writes by the registry
}

// scope is the scope a challenge for t names, "" for none.
func (t target) scope() string {
	switch {
	case t.kind == targetRepo && oci.ValidateName(t.name) == nil:
		return typeRepo + ":" + t.name + ":" + actionPull
	case t.kind == targetCatalog:
		return typeReg + ":" + nameCatalog + ":" + actionAll
	}
	return ""
}

// RegistryGuard lets through to next only requests with a principal:
// a registry token from TokenHandler (Authorization: Bearer) whose access
// covers the repository or catalog asked for, a user's password or API
// token (Basic), or nobody when anonymous pulls are on. Others get 401
// UNAUTHORIZED in the registry's error format, with the challenge that
// sends docker to the token service. The principal is put on the
// request's context (WithPrincipal).
//
// Only reads are ever granted, but a write by an authenticated caller is
// passed on so the registry can say it takes no pushes (405); an
// anonymous writer gets 401 first. The catalog is for admins unless
// anonymous pulls are on.
//
// A registry token is checked again on every request: its user must still
// exist (with the role it has now) and, when it was issued for an API
// token, that token must still be valid, so revoking it takes effect at
// once.
func (s *Service) RegistryGuard(next http.Handler, opts GuardOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		t := parseTarget(r.URL.EscapedPath())
		_, service := opts.base(r)
		read := r.Method == http.MethodGet || r.Method == http.MethodHead

		var p Principal
		var claims *registryClaims
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		cred = strings.TrimSpace(cred)
		switch {
		case scheme == "":
			// Anonymous pulls are reads only: a write is asked to log in.
			if !opts.AnonymousPull || !read {
				s.challenge(w, r, opts, t, "", "authentication required")
				return
			}
			p = Principal{Via: ViaAnonymous}
		case strings.EqualFold(scheme, "Bearer"):
			var err error
			claims, p, err = s.verify(ctx, cred, service, opts.AnonymousPull)
			if errors.Is(err, errTokenInvalid) {
				s.log.DebugContext(ctx, "registry token refused", telemetry.KeyRemote, ClientAddr(r), telemetry.KeyError, err)
				s.challenge(w, r, opts, t, "invalid_token", "invalid or expired token")
				return
			}
			if err != nil {
				s.internalError(w, r, err)
				return
			}
		case strings.EqualFold(scheme, "Basic"):
			user, secret, ok := r.BasicAuth()
			if !ok {
				s.challenge(w, r, opts, t, "", "malformed basic credentials")
				return
			}
			var err error
			p, err = s.AuthenticateClient(ctx, user, secret, ClientAddr(r))
			switch {
			case errors.Is(err, ErrRateLimited):
				setRetryAfter(w, err)
				writeRegistryError(w, oci.ErrTooManyRequests.WithMessage("too many failed logins, retry later"))
				return
			case errors.Is(err, ErrBadCredentials):
				s.logBasicRefused(r, user)
				s.challenge(w, r, opts, t, "", "incorrect username, password or token")
				return
			case err != nil:
				s.internalError(w, r, err)
				return
			}
		default:
			s.challenge(w, r, opts, t, "", "unsupported authorization scheme; use Bearer or Basic")
			return
		}

		if read && !opts.AnonymousPull {
			switch t.kind {
			case targetRepo:
				if claims != nil && !claims.allows(typeRepo, t.name, actionPull) {
					s.challenge(w, r, opts, t, "insufficient_scope", "the token does not grant pull of this repository")
					return
				}
			case targetCatalog:
				if claims != nil && !claims.allows(typeReg, nameCatalog, actionAll) {
					s.challenge(w, r, opts, t, "insufficient_scope", "the token does not grant the catalog")
					return
				}
				if !p.IsAdmin() {
					writeRegistryError(w, oci.ErrDenied.WithMessage("the catalog is for admins"))
					return
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(ctx, p)))
	})
}

// challenge answers 401 UNAUTHORIZED with the Bearer challenge that sends
// docker to the token service: realm, service, the scope this request
// needs and, for a token that was refused, the error (RFC 6750).
func (s *Service) challenge(w http.ResponseWriter, r *http.Request, opts GuardOptions, t target, errCode, msg string) {
	base, service := opts.base(r)
	c := `Bearer realm="` + base + TokenPath + `",service="` + service + `"`
	if sc := t.scope(); sc != "" {
		c += `,scope="` + sc + `"`
	}
	if errCode != "" {
		c += `,error="` + errCode + `"`
	}
	w.Header().Set("WWW-Authenticate", c)
	writeRegistryError(w, oci.ErrUnauthorized.WithMessage(msg))
}

// logBasicRefused logs Basic credentials that were refused, on the
// registry and the API alike, so one line finds every failed attempt.
func (s *Service) logBasicRefused(r *http.Request, user string) {
	s.log.InfoContext(r.Context(), "basic credentials refused", telemetry.KeyUser, user,
		telemetry.KeyRemote, ClientAddr(r), telemetry.KeyPath, r.URL.Path, telemetry.KeyReason, "bad credentials")
}

// internalError answers 500 for a store failure, logging the cause.
func (s *Service) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "check registry credentials", telemetry.KeyError, err)
	writeRegistryError(w, &oci.Error{Code: "UNKNOWN", Status: http.StatusInternalServerError, Message: "internal server error"})
}

// apiVersionHeader tells docker this is a v2 registry, also on a 401 of
// /v2/, which is how docker login recognises one.
const apiVersionHeader = "Docker-Distribution-API-Version"

// writeRegistryError writes e in the distribution spec's error format.
func writeRegistryError(w http.ResponseWriter, e *oci.Error) {
	w.Header().Set(apiVersionHeader, "registry/2.0")
	writeJSON(w, e.Status, errorBody{Errors: []errorEntry{{Code: e.Code, Message: e.Message}}})
}
