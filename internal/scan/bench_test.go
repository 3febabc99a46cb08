package scan

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// benchLayer is about 32 MiB of tar that compresses like source trees and
// binaries do (a few times): 2,000 files of words from a seeded generator,
// with a dpkg database and package.json files for the extractors to read.
func benchLayer(b *testing.B) []byte {
	b.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{}))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven zebras quietly munch fresh kale under amber skies 0x1f 0xdead beef 42")
	text := func(n int) string {
		var sb strings.Builder
		for sb.Len() < n {
			sb.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(8) == 0 {
				fmt.Fprintf(&sb, "%08x", rng.Uint32())
			}
			sb.WriteByte(' ')
		}
		return sb.String()
	}

	entries := []entry{reg("etc/os-release", debianRelease), reg("var/lib/dpkg/status", dpkgStatus)}
	for i := range 2000 {
		name := fmt.Sprintf("usr/share/app/%03d/file%d.txt", i/100, i)
		if i%50 == 0 {
			entries = append(entries, reg(fmt.Sprintf("app/node_modules/p%d/package.json", i), packageJSON(fmt.Sprintf("p%d", i), "1.0.0")))
		}
		entries = append(entries, reg(name, text(16<<10)))
	}
	return gzipBytes(b, tarball(b, entries...))
}

// BenchmarkInspect measures inspection against plain decompression of the
// same gzip layer, both in MB/s of compressed input, so the cost of tar
// parsing, hashing and extraction shows as the gap between them.
func BenchmarkInspect(b *testing.B) {
	blob := benchLayer(b)
	l := blobLayer(mtGzip, blob)

	b.Run("inspect", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		opts := Options{TempDir: b.TempDir()}
		for b.Loop() {
			if _, err := Inspect(context.Background(), []Layer{l}, opts); err != nil {
				b.Fatal(err)
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
	b.Run("gunzip-stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			zr, err := stdgzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
