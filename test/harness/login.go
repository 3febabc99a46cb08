package harness

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// loginTimeout bounds one docker login or logout.
const loginTimeout = time.Minute

// Login runs `docker login HOST -u user --password-stdin` against this
// daemon, failing the test if it fails, and returns its output. The
// credentials land in the daemon's private CLI configuration, where every
// later Pull finds them.
func (d *Dockerd) Login(t testing.TB, host, user, password string) string {
	t.Helper()
	out, err := d.LoginErr(host, user, password)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// LoginErr is Login returning the error, whose text holds what docker
// said (stdout and stderr), for tests of a refused login.
func (d *Dockerd) LoginErr(host, user, password string) (string, error) {
	// The password goes through stdin, never the command line, as a user
	// should give it.
	return runStdin(loginTimeout, password+"\n", d.docker,
		d.cli("login", host, "--username", user, "--password-stdin")...)
}

// Logout runs `docker logout HOST`, removing the stored credentials.
func (d *Dockerd) Logout(t testing.TB, host string) {
	t.Helper()
	if _, err := runStdin(loginTimeout, "", d.docker, d.cli("logout", host)...); err != nil {
		t.Fatal(err)
	}
}

// runStdin is RunErr with stdin; stdout and stderr are both returned, as
// docker login prints its verdict on either.
func runStdin(timeout time.Duration, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	out := strings.TrimSpace(stdout.String() + "\n" + stderr.String())
	if err != nil {
		return out, fmt.Errorf("run %s %s: %w\n--- stdout ---\n%s\n--- stderr ---\n%s",
			name, strings.Join(args, " "), err, lastLines(stdout.Bytes(), 40), lastLines(stderr.Bytes(), 60))
	}
	return out, nil
}
