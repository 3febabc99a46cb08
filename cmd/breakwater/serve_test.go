package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// serveProc is a `breakwater serve` running in process.
type serveProc struct {
	addr string // host:port

	mu   sync.Mutex
	logs []string // JSON log lines so far
}

// log returns the log lines written so far.
func (s *serveProc) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.logs, "\n")
}

// startServe runs `breakwater serve` in process on a free port in front of
// upstreamURL with environ and more args. The firewall is off unless
// environ or args turn it on, so tests of the cache never wait for
// vulnerability data, and anonymous pulls are on unless environ turns them
// off, so tests of the proxy need no login. The server stops with the test, and the test fails
// unless it stops cleanly.
func startServe(t *testing.T, upstreamURL string, environ []string, args ...string) *serveProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs, logw := io.Pipe()
	s := &serveProc{}
	addrc := make(chan string, 1)
	go s.readLogs(logs, addrc)

	// The data directory is made before the cleanup below is registered,
	// so it is removed only after serve has stopped writing to it.
	data := t.TempDir()
	done := make(chan error, 1)
	go func() {
		env := append([]string{"BREAKWATER_FIREWALL_MODE=off", "BREAKWATER_AUTH_ANONYMOUS_PULL=true"}, environ...)
		cmd := newRootCmd(io.Discard, logw, append(env, "BREAKWATER_LOG_FORMAT=json"))
		cmd.SetArgs(append([]string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--upstream", upstreamURL}, args...))
		done <- cmd.ExecuteContext(ctx)
		logw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v after shutdown, want nil", err)
		}
	})

	select {
	case s.addr = <-addrc:
		return s
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("serve stopped before listening: %v\n%s", err, s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not log a listening line within 30s:\n%s", s.log())
	}
	return nil
}

// readLogs keeps every log line and sends the address of the first
// "listening" line to addrc. It reads to the end, so logging never blocks.
func (s *serveProc) readLogs(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		s.mu.Lock()
		s.logs = append(s.logs, sc.Text())
		s.mu.Unlock()
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
			select {
			case addrc <- line.Addr:
			default:
			}
		}
	}
	io.Copy(io.Discard, r)
}

func TestServe(t *testing.T) {
	// An in-memory registry stands in for Docker Hub.
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	upRef, err := name.ParseReference(strings.TrimPrefix(up.URL, "http://")+"/library/app:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(upRef, img); err != nil {
		t.Fatalf("seed upstream: %v", err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	const secret = "dckr_pat_n0t-for-logs"
	srv := startServe(t, up.URL, []string{"BREAKWATER_UPSTREAM_USERNAME=bob", "BREAKWATER_UPSTREAM_PASSWORD=" + secret})
	addr := srv.addr

	t.Run("GET /v2/", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
			t.Errorf("got %d with API version %q, want 200 with registry/2.0", resp.StatusCode, resp.Header.Get("Docker-Distribution-API-Version"))
		}
	})

	t.Run("start-up log", func(t *testing.T) {
		logs := srv.log()
		if strings.Contains(logs, secret) {
			t.Errorf("log shows the password:\n%s", logs)
		}
		for _, want := range []string{`"upstreams[0].url":"` + up.URL + `"`, `"upstreams[0].password":"REDACTED"`, `"upstream":"docker.io"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %s:\n%s", want, logs)
			}
		}
	})

	// Pull the whole image, each blob verified, under the names a client
	// may use for a Docker Hub image; last with the upstream gone, which
	// only the stores can answer.
	for _, ref := range []string{"library/app:1", "app:1", "docker.io/library/app:1", "upstream stopped"} {
		t.Run("pull "+ref, func(t *testing.T) {
			if ref == "upstream stopped" {
				up.Close()
				ref = "library/app:1"
			}
			r, err := name.ParseReference(addr+"/"+ref, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Image(r)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			if err := validate.Image(got); err != nil {
				t.Fatalf("validate pulled image: %v", err)
			}
			d, err := got.Digest()
			if err != nil || d != want {
				t.Errorf("got digest %s (%v), want %s", d, err, want)
			}
		})
	}
}

// TestServeUnreachableUpstream checks that an upstream that is down at
// start-up does not stop breakwater: it serves, and a pull fails with the
// spec's error rather than hanging or crashing.
func TestServeUnreachableUpstream(t *testing.T) {
	// A listener closed at once leaves a port on which nothing answers.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	srv := startServe(t, dead.URL, []string{"BREAKWATER_UPSTREAMS_DOCKER_IO_RETRIES=0"})

	tests := []struct {
		path string
		want int
	}{
		{"/v2/", http.StatusOK},
		{"/v2/library/app/manifests/1", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get("http://" + srv.addr + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}

// TestServeBusyPort: serve that cannot listen stops with the reason
// before it creates the first admin, so a mistyped port leaves no
// password file behind.
func TestServeBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := t.TempDir()
	_, _, err = run(t, []string{"BREAKWATER_FIREWALL_MODE=off"}, "serve", "--listen", ln.Addr().String(), "--data", data)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("serve on a busy port: %v, want a listen error", err)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.password")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve that could not listen left the first admin's password file: %v", err)
	}
}
