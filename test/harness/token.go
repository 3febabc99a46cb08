package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Names the registry config and the token server agree on.
const (
	tokenService = "harness-upstream"
	tokenIssuer  = "harness-token-issuer"
	tokenTTL     = 5 * time.Minute
)

// TokenServer is a minimal Docker token service (the realm of a
// "Bearer realm=...,service=...,scope=..." challenge). It checks basic
// credentials and issues ES256 JWTs carrying the requested access. The
// signing certificate travels in the x5c header, which is how distribution
// v3 finds the key: it verifies the chain against its rootcertbundle, then
// checks iss, aud, exp and nbf, then the access claim.
//
// Both forms of the token request are served: GET with basic auth, and the
// OAuth2 POST with grant_type=password. A request without credentials is
// granted pull access only if AnonymousPull is set, otherwise 401.
type TokenServer struct {
	// URL is the realm, e.g. http://localhost:PORT/token.
	URL string
	// CertBundle is the PEM file for the registry's rootcertbundle.
	CertBundle string

	username, password string
	anonymousPull      bool
	signer             jose.Signer
	requests           atomic.Int64
}

// StartTokenServer starts a token server on 127.0.0.1 that accepts the
// given credentials; it is closed by t.Cleanup.
func StartTokenServer(t testing.TB, username, password string, anonymousPull bool) *TokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate token key: %v", err)
	}
	der := selfSignedCert(t, key)
	bundle := filepath.Join(t.TempDir(), "token-root.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(bundle, pemBytes, 0o644); err != nil {
		t.Fatalf("write token cert bundle: %v", err)
	}

	opts := (&jose.SignerOptions{}).
		WithType("JWT").
		WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(der)})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatalf("make token signer: %v", err)
	}

	ts := &TokenServer{
		CertBundle:    bundle,
		username:      username,
		password:      password,
		anonymousPull: anonymousPull,
		signer:        signer,
	}
	srv := httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(srv.Close)
	// The realm names localhost, not 127.0.0.1: ggcr (and so any client
	// built on it) refuses realms on private IP literals other than the
	// registry's own host:port, but does not resolve names to check them.
	ts.URL = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/token"
	return ts
}

// Requests is how many token requests arrived, granted or not.
func (ts *TokenServer) Requests() int64 { return ts.requests.Load() }

func selfSignedCert(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: tokenIssuer},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create token certificate: %v", err)
	}
	return der
}

// access is one entry of the token's "access" claim.
type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type tokenClaims struct {
	jwt.Claims
	Access []access `json:"access"`
}

func (ts *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	ts.requests.Add(1)
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}

	user, pass, scopes, ok := ts.credentials(r)
	authed := ok && user == ts.username && pass == ts.password
	if !authed && (ok || !ts.anonymousPull) {
		w.Header().Set("WWW-Authenticate", `Basic realm="harness-token"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return
	}

	now := time.Now()
	claims := tokenClaims{
		Claims: jwt.Claims{
			Issuer:    tokenIssuer,
			Subject:   user,
			Audience:  jwt.Audience{r.FormValue("service")},
			Expiry:    jwt.NewNumericDate(now.Add(tokenTTL)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Access: parseScopes(scopes, authed),
	}
	token, err := jwt.Signed(ts.signer).Claims(claims).Serialize()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}

	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   int(tokenTTL.Seconds()),
		"issued_at":    now.UTC().Format(time.RFC3339),
	})
}

// credentials reads the user, password and scopes of either request form.
// ok is false when no credentials were offered.
func (ts *TokenServer) credentials(r *http.Request) (user, pass string, scopes []string, ok bool) {
	if r.Method == http.MethodPost {
		r.ParseForm()
		user, pass = r.PostForm.Get("username"), r.PostForm.Get("password")
		ok = r.PostForm.Get("grant_type") == "password" && user != ""
		return user, pass, r.Form["scope"], ok
	}
	user, pass, ok = r.BasicAuth()
	return user, pass, r.URL.Query()["scope"], ok
}

// parseScopes turns "repository:library/debian:pull,push" into an access
// entry. The name may itself hold colons, so type is the first field and
// actions the last. Anonymous callers get pull only.
func parseScopes(scopes []string, authed bool) []access {
	var out []access
	for _, s := range scopes {
		for _, one := range strings.Fields(s) {
			first := strings.Index(one, ":")
			last := strings.LastIndex(one, ":")
			if first < 0 || first == last {
				continue
			}
			actions := strings.Split(one[last+1:], ",")
			if !authed {
				actions = onlyPull(actions)
			}
			out = append(out, access{Type: one[:first], Name: one[first+1 : last], Actions: actions})
		}
	}
	return out
}

func onlyPull(actions []string) []string {
	for _, a := range actions {
		if a == "pull" {
			return []string{"pull"}
		}
	}
	return nil
}
