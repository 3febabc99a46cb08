package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Environment knobs of the Debian image.
const (
	// CacheEnv overrides the cache directory (default
	// ~/.cache/breakwater-e2e).
	CacheEnv = "BREAKWATER_E2E_CACHE"
	// MirrorEnv overrides the Debian mirror debootstrap uses.
	MirrorEnv = "BREAKWATER_DEBIAN_MIRROR"

	defaultMirror    = "http://deb.debian.org/debian"
	debianTarball    = "debian-bookworm-minbase.tar"
	debootstrapLimit = 15 * time.Minute
)

// CacheDir is where expensive fixtures are kept between runs.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(CacheEnv)
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatalf("find cache dir: %v", err)
		}
		dir = filepath.Join(home, ".cache", "breakwater-e2e")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make cache dir: %v", err)
	}
	return dir
}

// DebianRootfs returns a tar of a Debian 12 (bookworm) minbase root file
// system made by debootstrap, building it on first use (needs root and the
// mirror, about a minute) and reusing it from CacheDir afterwards. Remove
// the file to rebuild. Processes share it under a file lock.
//
// The tar keeps numeric ownership and modes. It leaves out the contents of
// /dev (debootstrap creates device nodes there; container runtimes mount
// their own /dev, and device nodes cannot be created by a rootless
// unpacker), /proc and /sys, and, as Debian's official images do, apt's
// package lists and caches (50 MB that only `apt-get update` needs).
func DebianRootfs(t testing.TB) string {
	t.Helper()
	cache := CacheDir(t)
	out := filepath.Join(cache, debianTarball)

	lock, err := os.OpenFile(out+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("open debian lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock debian tarball: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err := buildDebian(cache, out); err != nil {
		t.Fatalf("build debian rootfs: %v", err)
	}
	return out
}

func buildDebian(cache, out string) error {
	mirror := os.Getenv(MirrorEnv)
	if mirror == "" {
		mirror = defaultMirror
	}
	work, err := os.MkdirTemp(cache, "debootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "rootfs")

	ctx, cancel := context.WithTimeout(context.Background(), debootstrapLimit)
	defer cancel()
	steps := [][]string{
		{"debootstrap", "--variant=minbase", "bookworm", root, mirror},
		{"tar", "--create", "--file", filepath.Join(work, "rootfs.tar"),
			"--numeric-owner", "--sort=name", "--directory", root,
			"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
			"--exclude=./var/cache/apt/archives/*.deb", "--exclude=./var/cache/apt/*.bin",
			"--exclude=./var/lib/apt/lists/*", "."},
	}
	for _, s := range steps {
		b, err := exec.CommandContext(ctx, s[0], s[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("run %s: %w\n%s", s[0], err, lastLines(b, 40))
		}
	}
	return os.Rename(filepath.Join(work, "rootfs.tar"), out)
}

var debianImages sync.Map // Format -> v1.Image

// DebianImage returns the Debian 12 minbase image for linux/amd64 in the
// given format: one layer from DebianRootfs, cmd bash. Its digest is
// stable as long as the cached tarball is. The compressed layer is kept in
// memory, so it is gzipped once per test process.
func DebianImage(t testing.TB, format Format) v1.Image {
	t.Helper()
	if img, ok := debianImages.Load(format); ok {
		return img.(v1.Image)
	}
	path := DebianRootfs(t)
	mt := types.DockerLayer
	if format == OCI {
		mt = types.OCILayer
	}
	layer, err := tarball.LayerFromFile(path, tarball.WithMediaType(mt), tarball.WithCompressedCaching)
	if err != nil {
		t.Fatalf("make debian layer: %v", err)
	}
	img := Assemble(t, format, LinuxAMD64, []string{"bash"}, layer)
	debianImages.Store(format, img)
	return img
}

func lastLines(b []byte, n int) string {
	count := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			count++
			if count > n {
				return string(b[i+1:])
			}
		}
	}
	return string(b)
}
