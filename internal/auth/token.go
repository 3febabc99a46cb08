package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"breakwater/internal/oci"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// TokenPath is where the Docker token service is mounted; a registry
// challenge names <public URL>/auth/token as its realm.
const TokenPath = "/auth/token"

// tokenIssuer is the iss of every registry token. Tokens are only ever
// checked by breakwater itself, so a fixed name is enough; the audience
// (the service) is what ties a token to one deployment.
const tokenIssuer = "breakwater"

// DefaultTokenTTL is the lifetime of a registry token when
// GuardOptions.TokenTTL is not set.
const DefaultTokenTTL = 5 * time.Minute

// tokenLeeway is the clock skew allowed when a token's times are checked,
// for replicas whose clocks differ slightly.
const tokenLeeway = 30 * time.Second

// The scope actions and resource types breakwater knows. Only pull is
// ever granted on a repository; the registry takes no pushes.
const (
	actionPull  = "pull"
	actionAll   = "*"
	typeRepo    = "repository"
	typeReg     = "registry"
	nameCatalog = "catalog"
)

// GuardOptions configure the registry guard and the token service; both
// must get the same options, so that tokens issued by one are accepted by
// the other.
type GuardOptions struct {
	// PublicURL is the base URL clients reach breakwater at. The realm of
	// a challenge is PublicURL + TokenPath and the service name is its
	// host. Empty means both come from each request's Host, with https
	// only for a TLS connection; forwarded headers are never trusted.
	PublicURL string
	// AnonymousPull lets requests without credentials pull and list.
	AnonymousPull bool
	// TokenTTL is the lifetime of issued tokens (default DefaultTokenTTL).
	TokenTTL time.Duration
}

func (o GuardOptions) ttl() time.Duration {
	if o.TokenTTL <= 0 {
		return DefaultTokenTTL
	}
	return o.TokenTTL
}

// base returns the realm's base URL and the service name for r.
func (o GuardOptions) base(r *http.Request) (base, service string) {
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err == nil && u.Host != "" {
			return strings.TrimSuffix(o.PublicURL, "/"), u.Host
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host, r.Host
}

// Access is one entry of a registry token's access claim, as the Docker
// token specification writes it.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// registryClaims are the claims of a registry token. TokenID ties a token
// issued for an API token to it, so revoking the API token ends the
// registry token at once.
type registryClaims struct {
	jwt.RegisteredClaims
	Access  []Access `json:"access"`
	TokenID string   `json:"bw_token_id,omitempty"`
	// UserAt is, for a token obtained with a password, when the user last
	// changed (UnixNano), so a change ends the token.
	UserAt int64 `json:"bw_user_at,omitempty"`
}

// allows reports whether the claims grant action on the resource.
func (c *registryClaims) allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, actionAll)) {
			return true
		}
	}
	return false
}

// parseScope splits a scope such as repository:library/debian:pull,push
// into its type, name and actions. The name may hold colons (a host with
// a port), so the type ends at the first colon and the actions start
// after the last. A resource class (repository(plugin)) is dropped.
func parseScope(s string) (typ, name string, actions []string, ok bool) {
	first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if first <= 0 || last == first {
		return "", "", nil, false
	}
	typ, name = s[:first], s[first+1:last]
	if i := strings.Index(typ, "("); i > 0 && strings.HasSuffix(typ, ")") {
		typ = typ[:i]
	}
	for a := range strings.SplitSeq(s[last+1:], ",") {
		if a = strings.TrimSpace(a); a != "" {
			actions = append(actions, a)
		}
	}
	return typ, name, actions, name != ""
}

// grant returns the access p gets of the requested scopes: pull of any
// well-formed repository name for everyone who may pull at all, the
// catalog for admins. What is not granted is left out, not refused, as
// the token specification asks; the registry then answers 401 or 405.
func grant(p Principal, scopes []string) []Access {
	var out []Access
	seen := map[string]bool{}
	for _, s := range scopes {
		typ, name, actions, ok := parseScope(s)
		if !ok {
			continue
		}
		var a Access
		switch {
		case typ == typeRepo && oci.ValidateName(name) == nil &&
			(slices.Contains(actions, actionPull) || slices.Contains(actions, actionAll)):
			a = Access{Type: typeRepo, Name: name, Actions: []string{actionPull}}
		case typ == typeReg && name == nameCatalog && p.IsAdmin() && slices.Contains(actions, actionAll):
			a = Access{Type: typeReg, Name: nameCatalog, Actions: []string{actionAll}}
		default:
			continue
		}
		if key := a.Type + ":" + a.Name; !seen[key] {
			seen[key] = true
			out = append(out, a)
		}
	}
	return out
}

// issue signs a registry token for p with access, valid for ttl, for the
// given service.
func (s *Service) issue(ctx context.Context, p Principal, service string, access []Access, ttl time.Duration) (string, time.Time, error) {
	key, err := s.SigningKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	var userAt int64
	if p.Via == ViaPassword {
		u, err := s.store.User(ctx, p.User)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("user %s: %w", p.User, err)
		}
		userAt = u.UpdatedAt.UnixNano()
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	now := s.now().Truncate(time.Second)
	if access == nil {
		access = []Access{} // the specification writes an empty list, not null
	}
	c := registryClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   p.User,
			Audience:  jwt.ClaimStrings{service},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        hex.EncodeToString(jti),
		},
		Access:  access,
		TokenID: p.TokenID,
		UserAt:  userAt,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign registry token: %w", err)
	}
	return signed, now, nil
}

// errTokenInvalid is a registry token that is forged, malformed, expired,
// for another service, or whose user or API token is gone.
var errTokenInvalid = errors.New("invalid registry token")

// verify checks a registry token for service and returns its claims and
// the principal it stands for now: the user must still exist, and a
// token issued for an API token needs that API token still valid. The
// principal's role is the user's current one.
func (s *Service) verify(ctx context.Context, raw, service string, anonymousOK bool) (*registryClaims, Principal, error) {
	key, err := s.SigningKey(ctx)
	if err != nil {
		return nil, Principal{}, err
	}
	var c registryClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(service),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(s.now),
	)
	if _, err := parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
		return nil, Principal{}, fmt.Errorf("%w: %w", errTokenInvalid, err)
	}
	var p Principal
	switch {
	case c.TokenID != "":
		p, err = s.TokenPrincipal(ctx, c.TokenID)
		if err == nil && p.User != c.Subject {
			err = fmt.Errorf("%w: api token %s belongs to %s, not %s", ErrBadCredentials, c.TokenID, p.User, c.Subject)
		}
	case c.Subject != "":
		p, err = s.passwordTokenPrincipal(ctx, &c)
	case anonymousOK:
		p = Principal{Via: ViaAnonymous}
	default:
		err = fmt.Errorf("%w: anonymous token, and anonymous pulls are off", ErrBadCredentials)
	}
	if errors.Is(err, ErrBadCredentials) {
		return nil, Principal{}, fmt.Errorf("%w: %w", errTokenInvalid, err)
	}
	if err != nil {
		return nil, Principal{}, err
	}
	return &c, p, nil
}

// passwordTokenPrincipal is the principal of a registry token obtained
// with a password. The token stands for the account as it was when
// issued: once the user has changed (a new password or role, or an
// account made anew under the same name) it is refused, and the client
// asks for another with what it holds.
func (s *Service) passwordTokenPrincipal(ctx context.Context, c *registryClaims) (Principal, error) {
	u, err := s.store.User(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: user %s: %w", ErrBadCredentials, c.Subject, err)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("user %s: %w", c.Subject, err)
	}
	if c.UserAt != u.UpdatedAt.UnixNano() {
		return Principal{}, fmt.Errorf("%w: token issued before user %s last changed", ErrBadCredentials, u.Name)
	}
	return Principal{User: u.Name, Role: Role(u.Role), Via: ViaPassword}, nil
}

// codeInvalid is the registry-style code of a malformed token request;
// the distribution spec has none for it.
const codeInvalid = "INVALID_REQUEST"

// tokenResponse is the token service's answer. token and access_token
// carry the same JWT: older clients read the first, OAuth2 clients the
// second.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
	Scope       string `json:"scope,omitempty"`
}

// TokenHandler serves the Docker token service at TokenPath: GET with
// optional basic credentials (a password or an API token), as docker
// login and every pull use it, and the OAuth2 form POST with
// grant_type=password. It answers with a registry token granting what the
// caller may have of the requested scopes. Wrong credentials are 401;
// none at all are 401 too unless anonymous pulls are on.
func (s *Service) TokenHandler(opts GuardOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth := r.Method == http.MethodPost
		// fail answers with the registry's code for GET and the OAuth2
		// code for POST.
		fail := func(status int, code, oauthCode, msg string) {
			if oauth {
				writeJSON(w, status, map[string]string{"error": oauthCode, "error_description": msg})
				return
			}
			writeJSON(w, status, errorBody{Errors: []errorEntry{{Code: code, Message: msg}}})
		}

		var user, secret string
		var scopes []string
		var hasCreds bool
		q := r.URL.Query()
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			user, secret, hasCreds = r.BasicAuth()
			scopes = splitScopes(q["scope"])
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				fail(http.StatusBadRequest, codeInvalid, "invalid_request", "the body must be a form (application/x-www-form-urlencoded) of at most 64 KiB")
				return
			}
			switch gt := r.PostForm.Get("grant_type"); gt {
			case "password":
			case "":
				fail(http.StatusBadRequest, codeInvalid, "invalid_request", "grant_type is required; only password is supported")
				return
			default:
				fail(http.StatusBadRequest, oci.ErrUnsupported.Code, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use password, or GET with basic credentials", gt))
				return
			}
			user, secret = r.PostForm.Get("username"), r.PostForm.Get("password")
			hasCreds = user != "" || secret != ""
			scopes = splitScopes(r.PostForm["scope"])
			q = r.PostForm
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			fail(http.StatusMethodNotAllowed, oci.ErrUnsupported.Code, "invalid_request", "the token service answers GET and POST")
			return
		}

		_, service := opts.base(r)
		if want := q.Get("service"); want != "" && want != service {
			fail(http.StatusBadRequest, codeInvalid, "invalid_request", fmt.Sprintf("service %q is not this registry's (%q); set auth.public_url if clients reach it through a proxy", want, service))
			return
		}

		ctx := r.Context()
		var p Principal
		switch {
		case hasCreds:
			var err error
			p, err = s.AuthenticateClient(ctx, user, secret, ClientAddr(r))
			switch {
			case errors.Is(err, ErrRateLimited):
				setRetryAfter(w, err)
				fail(http.StatusTooManyRequests, oci.ErrTooManyRequests.Code, "slow_down", "too many failed logins, retry later")
				return
			case errors.Is(err, ErrBadCredentials):
				s.log.InfoContext(ctx, "registry token refused", telemetry.KeyUser, user,
					telemetry.KeyRemote, ClientAddr(r), telemetry.KeyReason, "bad credentials")
				w.Header().Set("WWW-Authenticate", `Basic realm="breakwater"`)
				fail(http.StatusUnauthorized, oci.ErrUnauthorized.Code, "invalid_grant", "incorrect username, password or token")
				return
			case err != nil:
				s.log.ErrorContext(ctx, "check credentials", telemetry.KeyError, err)
				fail(http.StatusInternalServerError, "UNKNOWN", "server_error", "internal server error")
				return
			}
		case opts.AnonymousPull:
			p = Principal{Via: ViaAnonymous}
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="breakwater"`)
			fail(http.StatusUnauthorized, oci.ErrUnauthorized.Code, "invalid_client", "authentication required: log in with a user's password or an API token")
			return
		}

		access := grant(p, scopes)
		ttl := opts.ttl()
		tok, issued, err := s.issue(ctx, p, service, access, ttl)
		if err != nil {
			s.log.ErrorContext(ctx, "issue registry token", telemetry.KeyError, err)
			fail(http.StatusInternalServerError, "UNKNOWN", "server_error", "internal server error")
			return
		}
		resp := tokenResponse{
			Token:       tok,
			AccessToken: tok,
			ExpiresIn:   int(ttl / time.Second),
			IssuedAt:    issued.UTC().Format(time.RFC3339),
		}
		if oauth {
			resp.Scope = scopeString(access)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, resp)
	})
}

// splitScopes flattens scope parameters: GET repeats the parameter, the
// OAuth2 form separates scopes with spaces.
func splitScopes(params []string) []string {
	var out []string
	for _, p := range params {
		out = append(out, strings.Fields(p)...)
	}
	return out
}

// scopeString writes granted access back as space-separated scopes.
func scopeString(access []Access) string {
	parts := make([]string, len(access))
	for i, a := range access {
		parts[i] = a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
	}
	return strings.Join(parts, " ")
}

// errorBody is the registry error format of the distribution spec.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// setRetryAfter sets Retry-After from a *RateLimitError in err.
func setRetryAfter(w http.ResponseWriter, err error) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter()/time.Second)))
	}
}
