//go:build e2e

package harness

import (
	"archive/tar"
	"errors"
	"io"
	"testing"
)

// TestDebianImage checks the generated Debian image is what the end-to-end
// tests claim: linux/amd64, bookworm, with dpkg's package database.
func TestDebianImage(t *testing.T) {
	img := DebianImage(t, Docker)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("read config: %v", err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("platform = %s/%s, want linux/amd64", cfg.OS, cfg.Architecture)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatalf("open layer: %v", err)
	}
	defer rc.Close()

	want := map[string]bool{"./var/lib/dpkg/status": false, "./etc/debian_version": false, "./usr/bin/dpkg": false}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read layer tar: %v", err)
		}
		if h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			t.Errorf("layer holds device node %s, want none", h.Name)
		}
		if _, ok := want[h.Name]; ok {
			want[h.Name] = true
		}
		if h.Name == "./etc/debian_version" {
			b, _ := io.ReadAll(tr)
			if len(b) < 2 || b[0] != '1' || b[1] != '2' {
				t.Errorf("debian_version = %q, want 12.x", b)
			}
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("layer lacks %s", name)
		}
	}
}
