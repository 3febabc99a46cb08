package cache

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUpstreamsReportsTheBreaker: a failed revalidation marks the upstream
// unhealthy until UnhealthyFor has passed, and Upstreams says so.
func TestUpstreamsReportsTheBreaker(t *testing.T) {
	const unhealthyFor = time.Minute
	e := newEnv(t, withOptions(func(o *Options) { o.UnhealthyFor = unhealthyFor }))
	ctx := testContext(t)
	e.push("v1", randomImage(t, 512, 1))
	if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}
	healthy := []UpstreamHealth{{Name: "up", Healthy: true}}
	if diff := cmp.Diff(healthy, e.cache.Upstreams()); diff != "" {
		t.Errorf("Upstreams before a failure (-want +got):\n%s", diff)
	}

	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodHead {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	e.clock.Advance(testTagMaxAge + 1)
	failedAt := e.clock.Now()
	if m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil || !m.Stale {
		t.Fatalf("Manifest with a failing upstream = %+v, %v; want it stale", m, err)
	}
	down := []UpstreamHealth{{Name: "up", DownUntil: failedAt.Add(unhealthyFor)}}
	if diff := cmp.Diff(down, e.cache.Upstreams()); diff != "" {
		t.Errorf("Upstreams after a failure (-want +got):\n%s", diff)
	}

	e.clock.Advance(unhealthyFor)
	if diff := cmp.Diff(healthy, e.cache.Upstreams()); diff != "" {
		t.Errorf("Upstreams after UnhealthyFor (-want +got):\n%s", diff)
	}
}
