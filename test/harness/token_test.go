package harness

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestTokenServer checks what distribution's token access controller
// checks: a certificate chain in x5c that verifies against the bundle, a
// signature by that certificate's key, issuer, audience, time window and
// the access claim.
func TestTokenServer(t *testing.T) {
	ts := StartTokenServer(t, "alice", "pw", false)
	roots := x509.NewCertPool()
	b, err := os.ReadFile(ts.CertBundle)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse bundle: %v", err)
	}
	roots.AddCert(cert)

	tests := []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{"good credentials", "alice", "pw", http.StatusOK},
		{"wrong password", "alice", "nope", http.StatusUnauthorized},
		{"no credentials", "", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"service": {tokenService}, "scope": {"repository:library/debian:pull"}}
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"?"+q.Encode(), nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if resp.StatusCode != http.StatusOK {
				return
			}
			var body struct{ Token string }
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			checkToken(t, body.Token, roots)
		})
	}
}

func checkToken(t *testing.T, raw string, roots *x509.CertPool) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	chains, err := tok.Headers[0].Certificates(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("verify x5c chain: %v", err)
	}
	var claims tokenClaims
	if err := tok.Claims(chains[0][0].PublicKey, &claims); err != nil {
		t.Fatalf("verify signature: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: tokenIssuer, AnyAudience: jwt.Audience{tokenService}}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if len(claims.Access) != 1 || claims.Access[0].Name != "library/debian" || !slices.Equal(claims.Access[0].Actions, []string{"pull"}) {
		t.Errorf("access = %+v, want pull on library/debian", claims.Access)
	}
	if claims.Subject != "alice" {
		t.Errorf("subject = %q, want alice", claims.Subject)
	}
}
