//go:build e2e

package e2e

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"breakwater/test/harness"
)

// TestPullThrough pulls the Debian 12 image with every client through
// breakwater, once per upstream auth scheme, then again with the upstream
// stopped and the clients' local copies removed. Every pull must yield the
// upstream's manifest digest, and the upstream must serve each blob once.
//
// Tags go stale after a second, so the pulls with the upstream stopped
// are served stale-if-error after a failed revalidation, not merely from
// a tag still within its maximum age.
func TestPullThrough(t *testing.T) {
	const tagMaxAge = time.Second
	for _, auth := range []harness.Auth{harness.AuthBasic, harness.AuthToken} {
		t.Run(string(auth), func(t *testing.T) {
			s := newStack(t, auth, "BREAKWATER_CACHE_TAG_MAX_AGE="+tagMaxAge.String())
			deb := harness.DebianImage(t, harness.OCI)
			want := s.up.Push(t, "library/debian", "12", deb).String()
			e := startEngines(t, s)
			clients := e.clients(s, "library/debian", "12")

			t.Run("upstream up", func(t *testing.T) {
				for _, c := range clients {
					t.Run(c.name, func(t *testing.T) {
						if got := c.pull(t); got != want {
							t.Errorf("digest = %s, want %s", got, want)
						}
					})
				}
				s.checkOneGETPerBlob(t, "library/debian", blobs(t, deb))
			})
			if direct() {
				return
			}

			s.stopUpstream(t)
			e.removeAll(t)
			// Not a timing assertion: only makes sure every tag is stale.
			time.Sleep(tagMaxAge)
			t.Run("upstream stopped", func(t *testing.T) {
				for _, c := range clients {
					t.Run(c.name, func(t *testing.T) {
						if got := c.pull(t); got != want {
							t.Errorf("digest = %s, want %s", got, want)
						}
					})
				}
			})
		})
	}
}

// blobs lists an image's config and layer digests.
func blobs(t *testing.T, img v1.Image) []string {
	t.Helper()
	var out []string
	for _, h := range harness.Blobs(t, img) {
		out = append(out, h.String())
	}
	return out
}
