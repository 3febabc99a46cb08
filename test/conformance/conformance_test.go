//go:build e2e

package conformance

import (
	"testing"

	"breakwater/test/harness"
)

// repo is the repository in the upstream and, unchanged, through
// breakwater: a name of two components whose first is not a configured
// upstream goes to the default upstream without the library/ prefix.
const repo = "conformance/repo1"

// TestReadOnlyPull runs the suite's read-only group against breakwater in
// front of a seeded upstream that wants basic auth, with breakwater holding
// the credentials: on a cold cache, on a warm cache and with the upstream
// stopped. A first run straight at the upstream shows that the seed and
// the checks are sound, so that a failure through breakwater is
// breakwater's.
func TestReadOnlyPull(t *testing.T) {
	bin := suiteBinary(t)
	up := harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthBasic})
	d := seed(t, up, repo)

	t.Run("upstream", func(t *testing.T) {
		// Distribution v3 has no referrers API (404), so the
		// referrers check runs through breakwater only.
		direct := d
		direct.Referrers = nil
		runSuite(t, bin, target{
			Registry: up.Host,
			Repo:     repo,
			Username: up.Username,
			Password: up.Password,
		}, direct)
	})

	counter := harness.StartCountingProxy(t, up.URL)
	bw := harness.StartBreakwaterFor(t, up, counter.URL)
	through := target{Registry: bw.Host, Repo: repo}

	phases := []struct {
		name   string
		before func(t *testing.T)
		after  func(t *testing.T)
	}{
		{
			name: "cold",
			before: func(t *testing.T) {
				checkReferrers(t, bw.URL, repo, d) // from the upstream's referrers tag
			},
		},
		{
			name: "warm",
			after: func(t *testing.T) {
				checkNoDigestFetches(t, counter)
			},
		},
		{
			name:   "upstream-stopped",
			before: func(t *testing.T) { up.Stop(t) },
		},
	}
	for _, p := range phases {
		t.Run(p.name, func(t *testing.T) {
			if p.before != nil {
				p.before(t)
			}
			counter.Reset()
			runSuite(t, bin, through, d)
			checkHeaders(t, bw.URL, repo, d)
			checkReferrers(t, bw.URL, repo, d)
			if p.after != nil {
				p.after(t)
			}
			t.Logf("requests that reached the upstream:\n%s", counter)
		})
	}
}
