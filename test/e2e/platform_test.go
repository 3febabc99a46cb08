//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"breakwater/test/harness"
)

// TestMultiPlatform pushes two-platform indexes (a Docker manifest list
// and an OCI index) and pulls the non-native platform, linux/arm64, with
// every client: each must end up with that platform's image, not the
// index's first entry nor the host's platform.
func TestMultiPlatform(t *testing.T) {
	s := newStack(t, harness.AuthBasic)
	e := startEngines(t, s)
	const platform = "linux/arm64"

	for _, format := range []harness.Format{harness.Docker, harness.OCI} {
		t.Run(string(format), func(t *testing.T) {
			repo, tag := "library/multi-"+string(format), "latest"
			idx := harness.NewIndex(t, format, harness.LinuxAMD64, harness.LinuxARM64)
			wantIndex := s.up.PushIndex(t, repo, tag, idx).String()
			wantARM := harness.PlatformDigest(t, idx, harness.LinuxARM64).String()
			wantAMD := harness.PlatformDigest(t, idx, harness.LinuxAMD64).String()
			armImg, err := idx.Image(harness.PlatformDigest(t, idx, harness.LinuxARM64))
			if err != nil {
				t.Fatalf("open arm64 image: %v", err)
			}
			cfg, err := armImg.ConfigName()
			if err != nil {
				t.Fatalf("read arm64 config digest: %v", err)
			}
			wantConfig := cfg.String()
			ref := s.ref(repo, tag)

			t.Run("skopeo", func(t *testing.T) {
				for _, tc := range []struct{ arch, want string }{{"arm64", wantARM}, {"amd64", wantAMD}} {
					dir := filepath.Join(t.TempDir(), "dir")
					e.skopeo.Copy(t, ref, "dir:"+dir, "--override-os", "linux", "--override-arch", tc.arch)
					if got := harness.DirManifestDigest(t, dir); got != tc.want {
						t.Errorf("%s manifest digest = %s, want %s", tc.arch, got, tc.want)
					}
				}
			})
			t.Run("docker", func(t *testing.T) {
				e.docker.Pull(t, ref, platform)
				if got := e.docker.ImageID(t, ref); got != wantConfig {
					t.Errorf("image ID = %s, want arm64 config %s", got, wantConfig)
				}
				if got := repoDigest(t, e.docker.RepoDigests(t, ref), s.host+"/"+repo); got != wantIndex {
					t.Errorf("repo digest = %s, want index %s", got, wantIndex)
				}
			})
			t.Run("podman", func(t *testing.T) {
				e.podman.Pull(t, ref, platform)
				if got := "sha256:" + e.podman.ImageID(t, ref); got != wantConfig {
					t.Errorf("image ID = %s, want arm64 config %s", got, wantConfig)
				}
			})
			t.Run("containerd", func(t *testing.T) {
				e.ctrd.Pull(t, ref, platform)
				if got := e.ctrd.ImageDigest(t, ref); got != wantIndex {
					t.Errorf("image digest = %s, want index %s", got, wantIndex)
				}
				content := e.ctrd.Content(t)
				if !content[wantARM] || content[wantAMD] {
					t.Errorf("content store has arm64 manifest %t, amd64 manifest %t; want true, false\n%s",
						content[wantARM], content[wantAMD], strings.Join(keys(content), "\n"))
				}
			})
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
