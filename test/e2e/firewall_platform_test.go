//go:build e2e

package e2e

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/test/harness"
)

// TestFirewallPlatforms pulls each platform of a multi-platform image with
// docker: each platform's image gets its own verdict, so the amd64 image is
// served while the arm64 one, which holds a malicious npm package, is
// withheld, and its quarantine record names its platform.
func TestFirewallPlatforms(t *testing.T) {
	e := newFWEnv(t, "")
	clean := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("ms", "2.1.3")))
	evil := harness.Assemble(t, harness.Docker, harness.LinuxARM64, []string{"/bin/sh"},
		fileLayer(t, npmPackage("debug", "4.4.2")))
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	for _, a := range []struct {
		img v1.Image
		p   v1.Platform
	}{{clean, harness.LinuxAMD64}, {evil, harness.LinuxARM64}} {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        a.img,
			Descriptor: v1.Descriptor{MediaType: types.DockerManifestSchema2, Platform: &a.p},
		})
	}
	e.up.PushIndex(t, "library/multi", "1", idx)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))

	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/multi", "1")

	d.Pull(t, ref, "linux/amd64")
	if got := repoDigest(t, d.RepoDigests(t, ref), bw.Host+"/library/multi"); got != harness.Digest(t, idx).String() {
		t.Errorf("docker recorded %s, want the index digest %s", got, harness.Digest(t, idx))
	}
	d.Remove(t, ref)

	err := d.PullErr(ref, "linux/arm64")
	if err == nil {
		t.Fatalf("docker pull --platform linux/arm64 succeeded, want the arm64 image withheld")
	}
	if !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("docker pull --platform linux/arm64: want manifest unknown, got:\n%v", err)
	}

	recs := recordsOf(t, e.quarantineList(t), "docker.io/library/multi")
	if len(recs) != 1 {
		t.Fatalf("quarantine records = %+v, want one, for the arm64 image", recs)
	}
	if want := harness.Digest(t, evil).String(); recs[0].Digest != want || !strings.HasPrefix(recs[0].Platform, "linux/arm64") {
		t.Errorf("quarantine record = %+v, want digest %s on linux/arm64", recs[0], want)
	}
	// scan judges the platform it is asked for, and agrees.
	if r, err := e.scan(t, "library/multi:1", "--platform", "linux/arm64"); err == nil || r.Served {
		t.Errorf("scan --platform linux/arm64: served %v, err %v; want withheld and a non-zero exit", r.Served, err)
	}
	if r, err := e.scan(t, "library/multi:1", "--platform", "linux/amd64"); err != nil || !r.Served {
		t.Errorf("scan --platform linux/amd64: served %v, err %v; want served", r.Served, err)
	}
	// The amd64 image was judged and served: only its verdict allows it.
	details := e.judged(t, "docker.io/library/multi", harness.Digest(t, clean).String())
	if !strings.Contains(details, "result=allow") {
		t.Errorf("amd64 verdict = %q, want allow", details)
	}
}
