//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"breakwater/test/harness"
)

// TestFirewallOneInspection (a short name: podman limits its runroot
// path, which lives under t.TempDir()) starts docker, podman and four skopeo
// copies of the Debian 12 image at once through a quarantine-mode
// breakwater that has never seen it. They share one inspection: every
// client gets the image, the audit log has one judgement, the upstream
// sees one GET per blob, and breakwater's memory stays small.
func TestFirewallOneInspection(t *testing.T) {
	const repo = "library/debian"
	e := newFWEnv(t, "firewall:\n  wait: 5m\n") // a loaded machine must not turn this into a 429 test
	e.counter = harness.StartCountingProxy(t, e.up.URL)
	img := harness.DebianImage(t, harness.Docker)
	want := e.up.Push(t, repo, "12", img).String()
	e.importRecords(t, debianRecords)
	bw := e.serve(t, "quarantine")
	ref := bw.Ref(repo, "12")

	docker := harness.StartDockerd(t, harness.DockerdOptions{})
	podman := harness.NewPodman(t, harness.PodmanOptions{})
	skopeo := harness.NewSkopeo(t)
	type puller struct {
		name   string
		pull   func() error
		digest func(t *testing.T) string
	}
	pullers := []puller{
		{"docker", func() error { return docker.PullErr(ref, "") }, func(t *testing.T) string {
			return repoDigest(t, docker.RepoDigests(t, ref), bw.Host+"/"+repo)
		}},
		{"podman", func() error { return podman.PullErr(ref, "") }, func(t *testing.T) string { return podman.Digest(t, ref) }},
	}
	for i := range 4 {
		dir := filepath.Join(t.TempDir(), "dir")
		pullers = append(pullers, puller{fmt.Sprintf("skopeo-%d", i), func() error { return skopeo.CopyErr(ref, "dir:"+dir) },
			func(t *testing.T) string { return harness.DirManifestDigest(t, dir) }})
	}

	errs := make([]error, len(pullers))
	var wg sync.WaitGroup
	for i, p := range pullers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.pull()
		}()
	}
	wg.Wait()
	for i, p := range pullers {
		if errs[i] != nil {
			t.Errorf("%s: %v", p.name, errs[i])
			continue
		}
		if got := p.digest(t); got != want {
			t.Errorf("%s pulled %s, want %s", p.name, got, want)
		}
	}

	out := e.mustCLI(t, "audit", "--repo", "docker.io/"+repo, "--action", "judged", "--format", "json")
	var judged []auditEntry
	if err := json.Unmarshal([]byte(out), &judged); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	if len(judged) != 1 || judged[0].Digest != want {
		t.Errorf("judgements = %+v, want one, of %s", judged, want)
	}
	gets := e.counter.BlobGETs(repo)
	for _, b := range harness.Blobs(t, img) {
		if gets[b.String()] != 1 {
			t.Errorf("upstream GETs of blob %s = %d, want 1", b, gets[b.String()])
		}
	}
	// Inspection streams the 121 MB of tar: memory must not follow it.
	rss := peakRSS(t, bw.Process().PID())
	if rss > 256<<20 {
		t.Errorf("breakwater's peak RSS = %d MiB, want under 256 MiB", rss>>20)
	}
	t.Logf("breakwater's peak RSS after inspecting and serving the Debian image: %d MiB", rss>>20)
	if t.Failed() {
		t.Logf("upstream requests:\n%s", e.counter)
	}
}
