//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"breakwater/test/harness"
)

// TestConcurrentColdPull starts twenty clients pulling the same image that
// breakwater has never seen, all at once. Each must get the upstream's
// digest, and the upstream must see exactly one GET per blob: the fetches
// were coalesced, not repeated per client.
func TestConcurrentColdPull(t *testing.T) {
	const (
		repo = "library/cold"
		tag  = "v1"
	)
	s := newStack(t, harness.AuthToken)
	// Several layers of incompressible data, big enough that the pulls
	// overlap while the first fetch of each blob is still streaming.
	img := harness.NewImage(t, harness.ImageSpec{Format: harness.Docker, Layers: 4, LayerSize: 8 << 20})
	want := s.up.Push(t, repo, tag, img).String()
	ref := s.ref(repo, tag)

	docker := harness.StartDockerd(t, harness.DockerdOptions{})
	ctrd := harness.StartContainerd(t)
	podmans := []*harness.Podman{
		harness.NewPodman(t, harness.PodmanOptions{}),
		harness.NewPodman(t, harness.PodmanOptions{}),
	}
	skopeo := harness.NewSkopeo(t)

	// The mix: one docker, one containerd, two podmans and sixteen skopeo
	// copies into dir: destinations, which keep the manifest verbatim.
	type puller struct {
		name   string
		pull   func() error
		digest func(t *testing.T) string
	}
	pullers := []puller{
		{"docker", func() error { return docker.PullErr(ref, "") }, func(t *testing.T) string {
			return repoDigest(t, docker.RepoDigests(t, ref), s.host+"/"+repo)
		}},
		{"containerd", func() error { return ctrd.PullErr(ref, "") }, func(t *testing.T) string {
			return ctrd.ImageDigest(t, ref)
		}},
	}
	for i, p := range podmans {
		pullers = append(pullers, puller{fmt.Sprintf("podman-%d", i), func() error { return p.PullErr(ref, "") },
			func(t *testing.T) string { return p.Digest(t, ref) }})
	}
	for i := 0; len(pullers) < 20; i++ {
		dir := filepath.Join(t.TempDir(), "dir")
		pullers = append(pullers, puller{fmt.Sprintf("skopeo-%d", i), func() error { return skopeo.CopyErr(ref, "dir:"+dir) },
			func(t *testing.T) string { return harness.DirManifestDigest(t, dir) }})
	}

	// Release all at once; commands are bounded by harness.PullTimeout.
	start := make(chan struct{})
	errs := make([]error, len(pullers))
	var wg sync.WaitGroup
	for i, p := range pullers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = p.pull()
		}()
	}
	close(start)
	wg.Wait()

	for i, p := range pullers {
		t.Run(p.name, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got := p.digest(t); got != want {
				t.Errorf("digest = %s, want %s", got, want)
			}
		})
	}
	s.checkOneGETPerBlob(t, repo, blobs(t, img))
}
