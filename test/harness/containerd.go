package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Containerd is a private containerd with its own root, state and socket,
// driven with ctr in namespace "breakwater-e2e" and the native snapshotter
// (works on any file system). Must run as root.
type Containerd struct {
	// Socket is the gRPC address.
	Socket    string
	Namespace string

	ctr  string
	proc *Process
}

// StartContainerd starts containerd and waits until `ctr version` answers.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	data := t.TempDir()
	run, err := os.MkdirTemp("", "bwc")
	if err != nil {
		t.Fatalf("make containerd state dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })

	c := &Containerd{
		Socket:    filepath.Join(run, "containerd.sock"),
		Namespace: "breakwater-e2e",
		ctr:       LookPath(t, "ctr"),
	}
	config := filepath.Join(data, "config.toml")
	body := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q
`, filepath.Join(data, "root"), filepath.Join(run, "state"), c.Socket)
	if err := os.WriteFile(config, []byte(body), 0o644); err != nil {
		t.Fatalf("write containerd config: %v", err)
	}

	c.proc = StartProcess(t, &Process{
		Name:  "containerd",
		Path:  LookPath(t, "containerd"),
		Args:  []string{"--config", config},
		Ready: SocketReady(c.Socket),
	})
	c.Ctr(t, "version")
	return c
}

// Ctr runs ctr against this containerd in its namespace.
func (c *Containerd) Ctr(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, PullTimeout, c.ctr, append([]string{"--address", c.Socket, "--namespace", c.Namespace}, args...)...)
}

// Pull pulls ref over plain HTTP and unpacks it; platform may be empty.
// Extra arguments go before the reference (e.g. "--hosts-dir", dir).
func (c *Containerd) Pull(t testing.TB, ref, platform string, extra ...string) {
	t.Helper()
	if err := c.PullErr(ref, platform, extra...); err != nil {
		t.Fatal(err)
	}
}

// PullErr is Pull returning the error, for use off the test goroutine.
func (c *Containerd) PullErr(ref, platform string, extra ...string) error {
	args := []string{"--address", c.Socket, "--namespace", c.Namespace,
		"images", "pull", "--plain-http", "--snapshotter", "native"}
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	args = append(args, extra...)
	_, err := RunErr(PullTimeout, c.ctr, append(args, ref)...)
	return err
}

// ImageDigest is the digest containerd recorded for ref: the manifest or
// index the tag resolved to.
func (c *Containerd) ImageDigest(t testing.TB, ref string) string {
	t.Helper()
	out := c.Ctr(t, "images", "ls")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ref {
			return f[2]
		}
	}
	t.Fatalf("ctr images ls has no %s:\n%s", ref, out)
	return ""
}

// Content lists the digests in the content store.
func (c *Containerd) Content(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, d := range strings.Fields(c.Ctr(t, "content", "ls", "--quiet")) {
		out[d] = true
	}
	return out
}

// Remove deletes the image and waits for garbage collection of its content.
func (c *Containerd) Remove(t testing.TB, ref string) {
	t.Helper()
	c.Ctr(t, "images", "rm", "--sync", ref)
}

// MirrorHostsDir writes a hosts directory that sends pulls for registry
// (e.g. "docker.io") to mirror ("http://127.0.0.1:PORT") and returns it
// for Pull(..., "--hosts-dir", dir). containerd adds ?ns=registry to the
// mirror's requests.
func MirrorHostsDir(t testing.TB, registry, mirror string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, registry), 0o755); err != nil {
		t.Fatalf("make hosts dir: %v", err)
	}
	server := registry
	if registry == "docker.io" {
		server = "registry-1.docker.io"
	}
	body := fmt.Sprintf("server = \"https://%s\"\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", server, mirror)
	if err := os.WriteFile(filepath.Join(dir, registry, "hosts.toml"), []byte(body), 0o644); err != nil {
		t.Fatalf("write hosts.toml: %v", err)
	}
	return dir
}

// RemoveAll deletes every image in the namespace and waits for garbage
// collection.
func (c *Containerd) RemoveAll(t testing.TB) {
	t.Helper()
	refs := strings.Fields(c.Ctr(t, "images", "ls", "--quiet"))
	if len(refs) == 0 {
		return
	}
	c.Ctr(t, append([]string{"images", "rm", "--sync"}, refs...)...)
}
