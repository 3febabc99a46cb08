package harness

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestProcessStopStart(t *testing.T) {
	p := &Process{
		Name: "sleeper",
		Path: LookPath(t, "sh"),
		Args: []string{"-c", "echo started; exec sleep 60"},
	}
	// Ready on the log, so Start returns only once the shell ran.
	p.Ready = func(context.Context) error {
		if strings.Count(p.Log(), "started\n") < strings.Count(p.Log(), "=== start") {
			return errors.New("no output yet")
		}
		return nil
	}
	StartProcess(t, p)
	if !p.Running() {
		t.Fatalf("Running() = false after start, want true")
	}

	p.Stop(t)
	if p.Running() {
		t.Errorf("Running() = true after Stop, want false")
	}
	p.Stop(t) // stopping twice is harmless

	p.Start(t)
	if !p.Running() {
		t.Errorf("Running() = false after restart, want true")
	}
	if got := strings.Count(p.Log(), "=== start"); got != 2 {
		t.Errorf("log has %d start markers, want 2:\n%s", got, p.Log())
	}
}
