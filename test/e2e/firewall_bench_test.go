//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/scan"
	"breakwater/test/harness"
)

// BenchmarkFirewallInspectDebian is internal/scan's BenchmarkInspect on
// real data: the gzip layer of the debootstrap Debian 12 image, inspected
// as the firewall does, against plain decompression of the same bytes,
// both in MB/s of compressed layer.
//
//	go test -tags e2e -run '^$' -bench FirewallInspectDebian -benchtime 5x ./test/e2e
func BenchmarkFirewallInspectDebian(b *testing.B) {
	layers, err := harness.DebianImage(b, harness.Docker).Layers()
	if err != nil {
		b.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		b.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	mt, err := layers[0].MediaType()
	if err != nil {
		b.Fatal(err)
	}
	l := scan.Layer{
		Digest:    digest.FromBytes(blob),
		MediaType: string(mt),
		Size:      int64(len(blob)),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		},
	}

	b.Run("inspect", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		opts := scan.Options{TempDir: b.TempDir()}
		for b.Loop() {
			inv, err := scan.Inspect(context.Background(), []scan.Layer{l}, opts)
			if err != nil {
				b.Fatal(err)
			}
			if len(inv.Components) < 80 {
				b.Fatalf("inspection found %d components, want the ~88 dpkg packages", len(inv.Components))
			}
		}
	})
	b.Run("gunzip", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
