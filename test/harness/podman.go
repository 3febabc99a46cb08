package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Podman runs podman as root with a private storage root (vfs), run root
// and registries.conf, so it shares nothing with a system podman.
type Podman struct {
	podman string
	global []string
	env    []string
}

// PodmanOptions configures NewPodman.
type PodmanOptions struct {
	// DockerHubMirror, if set ("127.0.0.1:PORT"), becomes an insecure
	// mirror of docker.io in the private registries.conf.
	DockerHubMirror string
}

// NewPodman prepares a podman with fresh storage under t.TempDir().
func NewPodman(t testing.TB, opts PodmanOptions) *Podman {
	t.Helper()
	dir := t.TempDir()
	conf := "unqualified-search-registries = []\n"
	if opts.DockerHubMirror != "" {
		conf += fmt.Sprintf(`
[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"

[[registry.mirror]]
location = %q
insecure = true
`, opts.DockerHubMirror)
	}
	regConf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(regConf, []byte(conf), 0o644); err != nil {
		t.Fatalf("write registries.conf: %v", err)
	}
	return &Podman{
		podman: LookPath(t, "podman"),
		global: []string{
			"--root", filepath.Join(dir, "root"),
			"--runroot", filepath.Join(dir, "run"),
			"--tmpdir", filepath.Join(dir, "tmp"),
			"--storage-driver", "vfs",
			"--cgroup-manager", "cgroupfs",
			"--events-backend", "file",
			"--registries-conf", regConf,
		},
	}
}

// Podman runs podman with the private globals and returns stdout.
func (p *Podman) Podman(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, PullTimeout, p.podman, append(append([]string{}, p.global...), args...)...)
}

// Pull pulls ref without TLS verification; platform may be empty.
func (p *Podman) Pull(t testing.TB, ref, platform string) {
	t.Helper()
	if err := p.PullErr(ref, platform); err != nil {
		t.Fatal(err)
	}
}

// PullErr is Pull returning the error, for use off the test goroutine.
func (p *Podman) PullErr(ref, platform string) error {
	args := append(append([]string{}, p.global...), "pull", "--quiet", "--tls-verify=false")
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	_, err := RunErr(PullTimeout, p.podman, append(args, ref)...)
	return err
}

// Digest is the manifest digest podman recorded for the pulled image.
func (p *Podman) Digest(t testing.TB, ref string) string {
	t.Helper()
	return p.Podman(t, "image", "inspect", "--format", "{{.Digest}}", ref)
}

// RepoDigests lists "name@sha256:..." for a local image.
func (p *Podman) RepoDigests(t testing.TB, ref string) []string {
	t.Helper()
	var out []string
	raw := p.Podman(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("parse RepoDigests %q: %v", raw, err)
	}
	return out
}

// ImageID is the local image ID (the config digest without "sha256:").
func (p *Podman) ImageID(t testing.TB, ref string) string {
	t.Helper()
	return p.Podman(t, "image", "inspect", "--format", "{{.Id}}", ref)
}

// Remove deletes a local image.
func (p *Podman) Remove(t testing.TB, ref string) {
	t.Helper()
	p.Podman(t, "rmi", "--force", ref)
}

// RemoveAll deletes every local image.
func (p *Podman) RemoveAll(t testing.TB) {
	t.Helper()
	p.Podman(t, "rmi", "--all", "--force")
}
