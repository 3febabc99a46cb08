package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for every wait in this package: a process that is not ready by
// then is a failure, never a reason to wait longer.
const (
	readyTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
	pollEvery    = 50 * time.Millisecond
)

// logTailBytes is how much of a log is printed when a test fails; the full
// file stays in t.TempDir() while the test runs.
const logTailBytes = 32 << 10

// Process is one external program started by a test. Start and Stop may be
// called repeatedly (Stop, then Start again keeps the same arguments, so a
// server comes back on the same port with the same data). It is safe for
// concurrent use.
type Process struct {
	// Name labels log files and failure output.
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Env is appended to the test process's environment.
	Env []string
	// Dir is the working directory; empty means the current one.
	Dir string
	// Ready, if set, is polled after Start until it returns nil.
	Ready func(ctx context.Context) error

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	starts  int
}

// StartProcess starts p, registers its Stop with t.Cleanup and prints the
// tail of its log if the test fails.
func StartProcess(t testing.TB, p *Process) *Process {
	t.Helper()
	p.logPath = filepath.Join(t.TempDir(), p.Name+".log")
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("--- log of %s (%s) ---\n%s", p.Name, p.logPath, tail(p.logPath))
		}
	})
	p.Start(t)
	return p
}

// LogPath is the file that receives the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Log returns the whole log so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// Start runs the program again and waits for Ready. It fails the test if
// the process is already running, exits early or is not ready in time.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		t.Fatalf("start %s: already running", p.Name)
	}
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		t.Fatalf("open log of %s: %v", p.Name, err)
	}
	p.starts++
	fmt.Fprintf(log, "=== start %d: %s %q\n", p.starts, p.Path, p.Args)

	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	cmd.Stdout = log
	cmd.Stderr = log
	// A process group of its own, so Stop also ends children (dockerd's
	// containerd) and a terminal's ^C reaches us first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		p.mu.Unlock()
		t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	if p.Ready == nil {
		return
	}
	if err := p.waitReady(done); err != nil {
		t.Fatalf("start %s: %v\n--- log ---\n%s", p.Name, err, tail(p.logPath))
	}
}

func (p *Process) waitReady(done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()

	var last error
	for {
		select {
		case <-done:
			return fmt.Errorf("exited before ready (last check: %v)", last)
		default:
		}
		if last = p.Ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", readyTimeout, last)
		case <-time.After(pollEvery):
		}
	}
}

// Stop ends the process: SIGTERM to its group, then SIGKILL after a bound.
// Stopping a stopped process does nothing.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}

	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(stopTimeout):
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Errorf("stop %s: pid %d still running after SIGKILL", p.Name, cmd.Process.Pid)
	}
}

// Running reports whether the process was started and has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail returns at most logTailBytes from the end of a file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	if len(b) > logTailBytes {
		b = append([]byte("...(cut)...\n"), b[len(b)-logTailBytes:]...)
	}
	return string(b)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it; the window is
// small enough for tests.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// HostPort joins 127.0.0.1 and port.
func HostPort(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// HTTPReady returns a Ready check that passes once GET url answers with any
// of the given status codes.
func HTTPReady(url string, codes ...int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		for _, c := range codes {
			if resp.StatusCode == c {
				return nil
			}
		}
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
}

// SocketReady returns a Ready check that passes once a unix socket accepts.
func SocketReady(path string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// LookPath finds a program in PATH or in the Go bin directories where
// `go install` puts it, so tests work before PATH is set up.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gopath)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatalf("find %s: not in PATH nor in %v (scripts/test installs it)", name, dirs)
	return ""
}

// PID is the process ID of the running process, 0 when it is stopped
// (for reading /proc/PID, such as its peak memory).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
