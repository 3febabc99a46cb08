package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
)

const (
	mtTar  = "application/vnd.oci.image.layer.v1.tar"
	mtGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
)

// entry is one tar entry of a generated layer.
type entry struct {
	name string
	body string
	typ  byte   // tar.TypeReg when zero
	link string // symlink or hard link target
	mode int64
	size int64 // overrides len(body) with zeros when set
}

func reg(name, body string) entry { return entry{name: name, body: body} }
func dir(name string) entry       { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target}
}
func hardlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeLink, link: target}
}

// tarball writes entries as an uncompressed tar stream.
func tarball(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		var body io.Reader
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
			body = bytes.NewReader([]byte(e.body))
			if e.size > 0 {
				hdr.Size = e.size
				body = io.LimitReader(zeros{}, e.size)
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %s: %v", e.name, err)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				t.Fatalf("write %s: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// blobLayer serves b as a layer of the given media type with b's digest.
func blobLayer(mediaType string, b []byte) Layer {
	return Layer{
		Digest:    digest.FromBytes(b),
		MediaType: mediaType,
		Size:      int64(len(b)),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
}

// gzLayer is the common case: entries as a gzip layer.
func gzLayer(t testing.TB, entries ...entry) Layer {
	t.Helper()
	return blobLayer(mtGzip, gzipBytes(t, tarball(t, entries...)))
}

func inspect(t *testing.T, opts Options, layers ...Layer) (*inventory.Inventory, error) {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	return Inspect(context.Background(), layers, opts)
}
