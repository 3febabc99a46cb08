package cache

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"breakwater/internal/oci"
)

// TestHangingUpstreamServesStale checks that a cached tag past its maximum
// age is served stale once the revalidation budget runs out on an upstream
// that takes connections and never answers, with no retry beyond it, and
// that the upstream is then left alone for UnhealthyFor (the tag list
// too) while tags never pulled still go to it.
func TestHangingUpstreamServesStale(t *testing.T) {
	const unhealthyFor = time.Minute
	e := newEnv(t, withRetries(3), withOptions(func(o *Options) {
		o.RevalidateTimeout = 100 * time.Millisecond
		o.UnhealthyFor = unhealthyFor
	}))
	ctx := testContext(t)
	d := e.push("v1", randomImage(t, 512, 1))
	e.push("v2", randomImage(t, 512, 1))
	if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}

	// HEADs hang until the client gives up or the test ends.
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodHead {
			return false
		}
		select {
		case <-r.Context().Done():
		case <-hang:
		}
		return true
	})
	e.resetCounts()
	e.clock.Advance(testTagMaxAge + 1)

	steps := []struct {
		name    string
		advance time.Duration
		// wantHeads and wantWarns count from the start of the steps.
		wantHeads, wantWarns int
	}{
		{"first revalidation gives up within its budget", 0, 1, 1},
		{"unhealthy upstream is not asked", unhealthyFor / 2, 1, 1},
		{"asked again after UnhealthyFor", unhealthyFor / 2, 2, 2},
		{"then left alone again", time.Second, 2, 2},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		// Far below the upstream client's 4 attempts of 30s each.
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := e.cache.Manifest(sctx, e.repo, tagRef("v1"))
		cancel()
		if err != nil {
			t.Fatalf("%s: Manifest: %v", st.name, err)
		}
		if m.Digest != d || !m.Stale || m.Hit {
			t.Errorf("%s: got %s stale %v hit %v, want %s stale true hit false", st.name, m.Digest, m.Stale, m.Hit, d)
		}
		if got := e.sentCount("HEAD", "manifests"); got != st.wantHeads {
			t.Errorf("%s: HEADs sent: got %d, want %d", st.name, got, st.wantHeads)
		}
		if got := e.warnings("upstream unhealthy"); got != st.wantWarns {
			t.Errorf("%s: warnings: got %d, want %d", st.name, got, st.wantWarns)
		}
	}

	// The tag list comes from the cache while the upstream counts as down.
	tags, err := e.cache.Tags(ctx, e.repo, "", 0)
	if err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("Tags while unhealthy: got %q, %v; want the cached [v1]", tags, err)
	}
	if got := e.sentCount("GET", "tags"); got != 0 {
		t.Errorf("Tags while unhealthy: tag list GETs sent: got %d, want 0", got)
	}

	// A tag never pulled has nothing stale to serve: it is fetched.
	m, err := e.cache.Manifest(ctx, e.repo, tagRef("v2"))
	if err != nil || m.Stale {
		t.Fatalf("first pull while unhealthy: got %v, %v; want it fetched", m, err)
	}
	if got := e.sentCount("GET", "manifests"); got != 1 {
		t.Errorf("first pull while unhealthy: manifest GETs sent: got %d, want 1", got)
	}
}

// warnings counts the log lines at WARN whose message starts with msg.
func (e *env) warnings(msg string) int {
	n := 0
	for line := range strings.Lines(e.logs.String()) {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, `msg="`+msg) {
			n++
		}
	}
	return n
}

// TestReferrersWhileUnhealthy: while an upstream counts as down, referrers
// are answered from the cache without asking it, the referrers tag too.
func TestReferrersWhileUnhealthy(t *testing.T) {
	const sigType = "application/vnd.example.sig.v1+json"
	e := newEnv(t, withOptions(func(o *Options) { o.RevalidateTimeout = 100 * time.Millisecond }))
	ctx := testContext(t)
	subject, referrer := pushReferrer(e, sigType)
	if _, err := e.cache.Manifest(ctx, e.repo, oci.Reference{Digest: referrer}); err != nil {
		t.Fatalf("Manifest of the referrer: %v", err)
	}
	if _, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil {
		t.Fatalf("cold Manifest: %v", err)
	}

	// A failed revalidation marks the upstream down.
	e.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	e.clock.Advance(testTagMaxAge + 1)
	if m, err := e.cache.Manifest(ctx, e.repo, tagRef("v1")); err != nil || !m.Stale {
		t.Fatalf("Manifest: got %v, %v; want it stale", m, err)
	}
	e.resetCounts()

	body, err := e.cache.Referrers(ctx, e.repo, subject, "")
	if err != nil {
		t.Fatalf("Referrers: %v", err)
	}
	if !strings.Contains(string(body), referrer.String()) {
		t.Errorf("Referrers: got %s, want it to list %s", body, referrer)
	}
	if got := e.total(); got != 0 {
		t.Errorf("upstream requests for referrers while unhealthy: got %d, want 0", got)
	}
}
