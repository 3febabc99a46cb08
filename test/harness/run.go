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

// PullTimeout bounds one client command (a pull of the Debian image
// through a cold proxy included).
const PullTimeout = 5 * time.Minute

// Run runs a command with a time bound and returns its trimmed stdout. It
// fails the test with stdout and stderr if the command fails or overruns.
func Run(t testing.TB, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(timeout, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunErr is Run without the test: the error holds the command line and
// its output.
func RunErr(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("run %s %s: %w\n--- stdout ---\n%s\n--- stderr ---\n%s",
			name, strings.Join(args, " "), err, lastLines(stdout.Bytes(), 40), lastLines(stderr.Bytes(), 60))
	}
	return strings.TrimSpace(stdout.String()), nil
}
