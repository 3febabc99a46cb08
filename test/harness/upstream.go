package harness

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Auth is how the upstream registry authenticates clients.
type Auth string

const (
	// AuthNone lets anyone pull and push.
	AuthNone Auth = "none"
	// AuthBasic is htpasswd: plain basic auth on every request.
	AuthBasic Auth = "htpasswd"
	// AuthToken is a bearer-token realm served by a TokenServer.
	AuthToken Auth = "token"
)

// Default credentials of an upstream with auth.
const (
	DefaultUsername = "harness"
	DefaultPassword = "harness-secret"
)

// UpstreamOptions configures StartUpstream. The zero value is an open
// registry.
type UpstreamOptions struct {
	Auth Auth
	// Username and Password default to DefaultUsername and DefaultPassword.
	Username, Password string
	// AnonymousPull lets a token request without credentials get pull
	// access, as Docker Hub does (AuthToken only).
	AnonymousPull bool
}

// Upstream is a CNCF distribution registry (the `registry` binary, v3)
// serving from a storage directory of its own. Stop and Start restart it
// on the same port with the same storage.
type Upstream struct {
	// URL is http://127.0.0.1:PORT; Host is 127.0.0.1:PORT.
	URL, Host string
	// Username and Password are empty for AuthNone.
	Username, Password string
	// Storage is the registry's root directory.
	Storage string
	// Token is the token server when Auth is AuthToken.
	Token *TokenServer

	auth Auth
	proc *Process
}

// StartUpstream starts a distribution registry and waits until GET /v2/
// answers (200, or 401 when auth is on).
func StartUpstream(t testing.TB, opts UpstreamOptions) *Upstream {
	t.Helper()
	if opts.Auth == "" {
		opts.Auth = AuthNone
	}
	if opts.Auth != AuthNone && opts.Username == "" {
		opts.Username, opts.Password = DefaultUsername, DefaultPassword
	}

	dir := t.TempDir()
	port := FreePort(t)
	u := &Upstream{
		URL:     "http://" + HostPort(port),
		Host:    HostPort(port),
		Storage: filepath.Join(dir, "storage"),
		auth:    opts.Auth,
	}
	if opts.Auth != AuthNone {
		u.Username, u.Password = opts.Username, opts.Password
	}

	authYAML := ""
	switch opts.Auth {
	case AuthNone:
	case AuthBasic:
		authYAML = u.htpasswdYAML(t, dir)
	case AuthToken:
		u.Token = StartTokenServer(t, u.Username, u.Password, opts.AnonymousPull)
		authYAML = fmt.Sprintf(`auth:
  token:
    realm: %s
    service: %s
    issuer: %s
    rootcertbundle: %s
`, u.Token.URL, tokenService, tokenIssuer, u.Token.CertBundle)
	default:
		t.Fatalf("start upstream: unknown auth %q", opts.Auth)
	}

	config := filepath.Join(dir, "config.yml")
	body := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: harness-upstream-secret
%s`, u.Storage, u.Host, authYAML)
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatalf("write upstream config: %v", err)
	}

	u.proc = StartProcess(t, &Process{
		Name:  "upstream-" + strconv.Itoa(port),
		Path:  LookPath(t, "registry"),
		Args:  []string{"serve", config},
		Env:   []string{"OTEL_TRACES_EXPORTER=none"},
		Ready: HTTPReady(u.URL+"/v2/", http.StatusOK, http.StatusUnauthorized),
	})
	return u
}

func (u *Upstream) htpasswdYAML(t testing.TB, dir string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
	if err != nil {
		t.Fatalf("hash upstream password: %v", err)
	}
	path := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(path, []byte(u.Username+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatalf("write htpasswd: %v", err)
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: harness-basic\n    path: %s\n", path)
}

// Auth is the mode the upstream was started with.
func (u *Upstream) Auth() Auth { return u.auth }

// Authenticator returns the upstream's credentials for ggcr (anonymous for
// AuthNone).
func (u *Upstream) Authenticator() authn.Authenticator {
	if u.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: u.Username, Password: u.Password}
}

// RemoteOptions are the ggcr options to talk to this upstream directly
// with its credentials.
func (u *Upstream) RemoteOptions() []remote.Option {
	return []remote.Option{
		remote.WithAuth(u.Authenticator()),
		remote.WithContext(context.Background()),
	}
}

// Ref returns "HOST/repo:tag" or "HOST/repo@digest" for this upstream;
// reference starting with "sha256:" makes a digest reference.
func (u *Upstream) Ref(repo, reference string) string {
	return joinRef(u.Host, repo, reference)
}

// Process is the registry process, for its log.
func (u *Upstream) Process() *Process { return u.proc }

// Stop stops the registry; its storage stays.
func (u *Upstream) Stop(t testing.TB) {
	t.Helper()
	u.proc.Stop(t)
}

// Start starts a stopped registry again on the same port and storage.
func (u *Upstream) Start(t testing.TB) {
	t.Helper()
	u.proc.Start(t)
}

func joinRef(host, repo, reference string) string {
	sep := ":"
	if strings.Contains(reference, ":") {
		sep = "@"
	}
	return host + "/" + repo + sep + reference
}
