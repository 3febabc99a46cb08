package harness

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BinEnv names an environment variable that, when set, points at a
// prebuilt breakwater binary to use instead of building one.
const BinEnv = "BREAKWATER_BIN"

var build struct {
	once sync.Once
	path string
	err  string
}

// Binary returns the path of a breakwater binary built from this checkout
// once per test process (or $BREAKWATER_BIN). The binary lives in a
// temporary directory that outlives single tests; the OS cleans it.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv(BinEnv); p != "" {
			build.path = p
			return
		}
		build.path, build.err = buildBinary()
	})
	if build.err != "" {
		t.Fatalf("build breakwater: %s", build.err)
	}
	return build.path
}

func buildBinary() (string, string) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err.Error()
	}
	dir, err := os.MkdirTemp("", "breakwater-bin-")
	if err != nil {
		return "", err.Error()
	}
	out := filepath.Join(dir, "breakwater")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/breakwater")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", err.Error() + "\n" + string(b)
	}
	return out, ""
}

// ModuleRoot is the directory of the go.mod enclosing the working
// directory (tests run in their package directory).
func ModuleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", os.ErrNotExist
	}
	return filepath.Dir(gomod), nil
}

// BreakwaterOptions configures StartBreakwater.
type BreakwaterOptions struct {
	// Upstream is the default upstream's remote URL (--upstream).
	Upstream string
	// Username and Password are the default upstream's credentials, given
	// through BREAKWATER_UPSTREAM_USERNAME and BREAKWATER_UPSTREAM_PASSWORD.
	Username, Password string
	// DataDir defaults to a fresh t.TempDir().
	DataDir string
	// Config, if set, is passed as --config.
	Config string
	// Firewall is the firewall mode for every repository (--firewall).
	// Empty means off: tests of the proxy alone judge nothing, and with
	// the firewall off serve fetches no vulnerability feeds, which here
	// would mean traffic to hosts outside this machine.
	Firewall string
	// ConfiguredFirewall leaves --firewall out, so the modes and rules of
	// the configuration (Config, Env) apply; Firewall must be empty then.
	// Such a configuration must keep serve from fetching feeds (vulndb
	// feeds empty), as tests may only reach 127.0.0.1.
	ConfiguredFirewall bool
	// AccessControl turns anonymous pulls off, as they are by default in
	// breakwater: clients must log in. Without it the harness turns them
	// on, so tests of the proxy and the firewall pull without a login.
	AccessControl bool
	// Args are extra arguments after "serve"; Env extra environment.
	Args []string
	Env  []string
}

// Breakwater is a running breakwater serve process on 127.0.0.1.
type Breakwater struct {
	// URL is http://127.0.0.1:PORT; Host is 127.0.0.1:PORT, the registry
	// host clients pull from (e.g. Host+"/library/debian:12").
	URL, Host string
	DataDir   string

	proc *Process
}

// StartBreakwater builds (once) and starts breakwater, and waits until
// GET /v2/ answers 200 or 401. Stopped by t.Cleanup.
func StartBreakwater(t testing.TB, opts BreakwaterOptions) *Breakwater {
	t.Helper()
	bin := Binary(t)
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	port := FreePort(t)
	b := &Breakwater{
		URL:     "http://" + HostPort(port),
		Host:    HostPort(port),
		DataDir: opts.DataDir,
	}

	args := []string{"serve", "--listen", b.Host, "--data", opts.DataDir}
	if opts.Upstream != "" {
		args = append(args, "--upstream", opts.Upstream)
	}
	if opts.Config != "" {
		args = append(args, "--config", opts.Config)
	}
	firewall := opts.Firewall
	if firewall == "" {
		firewall = "off"
	}
	if opts.ConfiguredFirewall {
		if opts.Firewall != "" {
			t.Fatalf("breakwater options: ConfiguredFirewall with Firewall %q", opts.Firewall)
		}
	} else {
		args = append(args, "--firewall", firewall)
	}
	args = append(args, opts.Args...)

	var env []string
	if !opts.AccessControl {
		env = append(env, "BREAKWATER_AUTH_ANONYMOUS_PULL=true")
	}
	env = append(env, opts.Env...)
	if opts.Username != "" {
		env = append(env,
			"BREAKWATER_UPSTREAM_USERNAME="+opts.Username,
			"BREAKWATER_UPSTREAM_PASSWORD="+opts.Password,
		)
	}

	b.proc = StartProcess(t, &Process{
		Name:  "breakwater-" + strconv.Itoa(port),
		Path:  bin,
		Args:  args,
		Env:   env,
		Ready: HTTPReady(b.URL+"/v2/", http.StatusOK, http.StatusUnauthorized),
	})
	return b
}

// StartBreakwaterFor starts breakwater in front of an upstream, holding its
// credentials. target is where breakwater sends requests: the upstream's
// URL or a CountingProxy's URL in front of it.
func StartBreakwaterFor(t testing.TB, u *Upstream, target string) *Breakwater {
	t.Helper()
	return StartBreakwater(t, BreakwaterOptions{
		Upstream: target,
		Username: u.Username,
		Password: u.Password,
	})
}

// Ref returns "HOST/repo:tag" or "HOST/repo@digest" on breakwater.
func (b *Breakwater) Ref(repo, reference string) string {
	return joinRef(b.Host, repo, reference)
}

// Process is the breakwater process, for its log.
func (b *Breakwater) Process() *Process { return b.proc }

// Stop stops breakwater; its data directory stays.
func (b *Breakwater) Stop(t testing.TB) {
	t.Helper()
	b.proc.Stop(t)
}

// Start starts a stopped breakwater again on the same port and data.
func (b *Breakwater) Start(t testing.TB) {
	t.Helper()
	b.proc.Start(t)
}
