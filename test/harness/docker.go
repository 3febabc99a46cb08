package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DockerdOptions configures StartDockerd.
type DockerdOptions struct {
	// Mirrors become registry-mirrors entries (e.g. a breakwater URL).
	Mirrors []string
	// Insecure are extra insecure registries; 127.0.0.0/8 is insecure for
	// dockerd already.
	Insecure []string
}

// Dockerd is a private docker daemon (vfs storage, no bridge, no
// iptables) with its own data root, exec root and socket, so it neither
// touches nor needs a system docker. It runs a containerd of its own, or
// the system's in namespaces of its own if one is running.
type Dockerd struct {
	// Socket is the daemon's unix socket.
	Socket string
	// CLIConfig is the docker CLI's configuration directory (--config),
	// private to this daemon, so a login stores its credentials here and
	// never in the user's ~/.docker.
	CLIConfig string

	docker string
	proc   *Process
}

// StartDockerd starts dockerd (must run as root) and waits until the
// socket answers `docker version`.
func StartDockerd(t testing.TB, opts DockerdOptions) *Dockerd {
	t.Helper()
	data := t.TempDir()
	// Unix socket paths are limited to 108 bytes, and dockerd puts its
	// containerd's socket under the exec root: keep it short.
	exec, err := os.MkdirTemp("", "bwd")
	if err != nil {
		t.Fatalf("make dockerd exec root: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(exec) })

	config := filepath.Join(data, "daemon.json")
	cfg, _ := json.Marshal(map[string]any{
		"registry-mirrors":    append([]string{}, opts.Mirrors...),
		"insecure-registries": append([]string{}, opts.Insecure...),
	})
	if err := os.WriteFile(config, cfg, 0o644); err != nil {
		t.Fatalf("write dockerd config: %v", err)
	}

	d := &Dockerd{
		Socket:    filepath.Join(exec, "docker.sock"),
		CLIConfig: filepath.Join(data, "cli"),
		docker:    LookPath(t, "docker"),
	}
	if err := os.Mkdir(d.CLIConfig, 0o700); err != nil {
		t.Fatalf("make docker CLI config dir: %v", err)
	}
	d.proc = StartProcess(t, &Process{
		Name: "dockerd",
		Path: LookPath(t, "dockerd"),
		Args: []string{
			"--config-file", config,
			"--storage-driver=vfs", "--iptables=false", "--ip-masq=false", "--bridge=none",
			"--data-root", filepath.Join(data, "root"),
			"--exec-root", exec,
			"--pidfile", filepath.Join(exec, "docker.pid"),
			"-H", "unix://" + d.Socket,
			// dockerd uses a system containerd if one runs (a fresh
			// machine starts one when docker.io is installed); own
			// namespaces keep this daemon apart from the system's.
			"--containerd-namespace", "breakwater-e2e-moby",
			"--containerd-plugins-namespace", "breakwater-e2e-plugins",
		},
		Ready: d.ready,
	})
	return d
}

func (d *Dockerd) ready(ctx context.Context) error {
	if err := SocketReady(d.Socket)(ctx); err != nil {
		return err
	}
	_, err := RunErr(10*time.Second, d.docker, d.cli("version")...)
	return err
}

// Docker runs the docker CLI against this daemon and returns stdout.
func (d *Dockerd) Docker(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, PullTimeout, d.docker, d.cli(args...)...)
}

// cli puts the global options that point the docker CLI at this daemon
// and its private configuration before args.
func (d *Dockerd) cli(args ...string) []string {
	return append([]string{"--config", d.CLIConfig, "-H", "unix://" + d.Socket}, args...)
}

// Pull pulls ref; platform ("linux/arm64") may be empty.
func (d *Dockerd) Pull(t testing.TB, ref, platform string) {
	t.Helper()
	if err := d.PullErr(ref, platform); err != nil {
		t.Fatal(err)
	}
}

// PullErr is Pull returning the error, for use off the test goroutine.
func (d *Dockerd) PullErr(ref, platform string) error {
	args := d.cli("pull", "--quiet")
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	_, err := RunErr(PullTimeout, d.docker, append(args, ref)...)
	return err
}

// RepoDigests lists "name@sha256:..." for a local image.
func (d *Dockerd) RepoDigests(t testing.TB, ref string) []string {
	t.Helper()
	var out []string
	raw := d.Docker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("parse RepoDigests %q: %v", raw, err)
	}
	return out
}

// ImageID is the local image ID, which is the config digest.
func (d *Dockerd) ImageID(t testing.TB, ref string) string {
	t.Helper()
	return d.Docker(t, "image", "inspect", "--format", "{{.Id}}", ref)
}

// Remove deletes a local image with all its tags and layers.
func (d *Dockerd) Remove(t testing.TB, ref string) {
	t.Helper()
	id := d.ImageID(t, ref)
	d.Docker(t, "image", "rm", "--force", id)
	if out, err := RunErr(time.Minute, d.docker, d.cli("image", "inspect", ref)...); err == nil {
		t.Fatalf("image %s still present after rm: %s", ref, out)
	}
}

// String names the daemon for messages.
func (d *Dockerd) String() string { return fmt.Sprintf("dockerd(%s)", d.Socket) }

// RemoveAll deletes every local image.
func (d *Dockerd) RemoveAll(t testing.TB) {
	t.Helper()
	d.Docker(t, "image", "prune", "--all", "--force")
	if left := d.Docker(t, "image", "ls", "--quiet"); left != "" {
		t.Fatalf("images left after prune: %s", left)
	}
}
