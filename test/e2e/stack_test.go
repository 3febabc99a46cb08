//go:build e2e

package e2e

import (
	"os"
	"testing"

	"breakwater/test/harness"
)

// DirectEnv, set to 1, points the clients straight at an open upstream
// (through the counting proxy) instead of breakwater. It exists to develop
// the client drivers while breakwater cannot serve; tests that need
// breakwater's behaviour (upstream stopped) then leave that phase out.
const DirectEnv = "BREAKWATER_E2E_DIRECT"

func direct() bool { return os.Getenv(DirectEnv) == "1" }

// stack is one upstream, a counting proxy in front of it, and breakwater
// in front of the proxy holding the upstream's credentials.
type stack struct {
	up      *harness.Upstream
	counter *harness.CountingProxy
	bw      *harness.Breakwater // nil in direct mode
	// host is what clients pull from: breakwater's host:port.
	host string
}

// newStack starts the three; env is extra environment for breakwater
// (e.g. BREAKWATER_CACHE_TAG_MAX_AGE=1s).
func newStack(t *testing.T, auth harness.Auth, env ...string) *stack {
	t.Helper()
	if direct() {
		auth = harness.AuthNone
	}
	s := &stack{up: harness.StartUpstream(t, harness.UpstreamOptions{Auth: auth})}
	s.counter = harness.StartCountingProxy(t, s.up.URL)
	if direct() {
		s.host = s.counter.Host
		return s
	}
	s.bw = harness.StartBreakwater(t, harness.BreakwaterOptions{
		Upstream: s.counter.URL,
		Username: s.up.Username,
		Password: s.up.Password,
		Env:      env,
	})
	s.host = s.bw.Host
	return s
}

// ref is a reference on breakwater.
func (s *stack) ref(repo, reference string) string {
	return s.host + "/" + repo + ":" + reference
}

// stopUpstream makes the upstream unreachable: the registry stops and so
// does the proxy in front of it, so breakwater gets "connection refused",
// not a 502 from the proxy.
func (s *stack) stopUpstream(t *testing.T) {
	t.Helper()
	s.up.Stop(t)
	s.counter.Stop(t)
}

// checkOneGETPerBlob fails unless every blob in want reached the upstream
// exactly once for repo, and no other blob did.
func (s *stack) checkOneGETPerBlob(t *testing.T, repo string, want []string) {
	t.Helper()
	gets := s.counter.BlobGETs(repo)
	for _, d := range want {
		if gets[d] != 1 {
			t.Errorf("upstream GETs of blob %s = %d, want 1", d, gets[d])
		}
		delete(gets, d)
	}
	for d, n := range gets {
		t.Errorf("upstream GETs of unexpected blob %s = %d, want 0", d, n)
	}
	if t.Failed() {
		t.Logf("upstream requests:\n%s", s.counter)
	}
}
