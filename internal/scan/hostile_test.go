package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// paxBomb is a tar whose first header announces a PAX record larger than
// any sane header; archive/tar's writer refuses to make one, so the type
// byte of a plain entry is rewritten and the checksum fixed up.
func paxBomb(t *testing.T) []byte {
	t.Helper()
	b := tarball(t, entry{name: "x", size: 2 << 20})
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b[:512] {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// repeated builds a compressed stream of many members (gzip) or frames
// (zstd) that decompress to head, then n MiB of zeros, then the tar end: a
// bomb made in milliseconds without holding its expansion in memory.
func repeated(t *testing.T, compress func(testing.TB, []byte) []byte, head []byte, n int) []byte {
	t.Helper()
	chunk := compress(t, make([]byte, 1<<20))
	var buf bytes.Buffer
	buf.Write(compress(t, head))
	for range n {
		buf.Write(chunk)
	}
	return buf.Bytes()
}

// bombHeader is the tar header of one file of n MiB, whose content and the
// archive end then follow as zeros.
func bombHeader(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n) << 20}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes() // not closed: the zeros that follow are its body and end
}

func TestInspectHostile(t *testing.T) {
	tb := tarball(t, reg("a", strings.Repeat("x", 4096)))
	gz := gzipBytes(t, tb)
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-8] ^= 0xff
	other := gzLayer(t, reg("other", "x"))
	wrongDigest := gzLayer(t, reg("a", "x"))
	wrongDigest.Digest = other.Digest
	wrongSize := gzLayer(t, reg("a", "x"))
	wrongSize.Size++
	badDigest := gzLayer(t, reg("a", "x"))
	badDigest.Digest = "sha256:nothex"

	tests := []struct {
		name   string
		layers []Layer
		opts   Options
		reason string
	}{
		{"dot-dot path", []Layer{gzLayer(t, reg("../evil", "x"))}, Options{}, "path contains .."},
		{"dot-dot inside a path", []Layer{gzLayer(t, reg("a/../../evil", "x"))}, Options{}, "path contains .."},
		{"absolute path", []Layer{gzLayer(t, reg("/etc/passwd", "x"))}, Options{}, "absolute path"},
		{"hard link out of the root", []Layer{gzLayer(t, hardlink("x", "../../etc/passwd"))}, Options{}, "hard link target leaves the image root"},
		{"absolute hard link", []Layer{gzLayer(t, hardlink("x", "/etc/passwd"))}, Options{}, "hard link target leaves the image root"},
		{"hard link to nothing", []Layer{gzLayer(t, hardlink("x", "missing"))}, Options{}, "hard link to missing file"},
		{"hard link to a directory", []Layer{gzLayer(t, dir("d/"), hardlink("x", "d"))}, Options{}, "hard link to missing file"},
		{"symlink loop in a parent", []Layer{gzLayer(t, symlink("a", "b"), symlink("b", "a"), reg("a/x", "y"))}, Options{}, "symlink loop"},
		{"symlink loop read by the scan", []Layer{gzLayer(t, dir("etc/"), symlink("etc/os-release", "os-release"))}, Options{}, "symlink loop"},
		{"symlink loop across layers", []Layer{gzLayer(t, symlink("usr/lib/os-release", "/etc/os-release")), gzLayer(t, symlink("etc/os-release", "/usr/lib/os-release"))}, Options{}, "symlink loop"},
		{"empty whiteout", []Layer{gzLayer(t, dir("a/"), reg("a/.wh.", ""))}, Options{}, "invalid whiteout name"},
		{"dot-dot whiteout", []Layer{gzLayer(t, dir("a/"), reg("a/.wh..", ""))}, Options{}, "invalid whiteout name"},
		{"parent is a file", []Layer{gzLayer(t, reg("a", "x"), reg("a/b", "y"))}, Options{}, "parent is not a directory"},
		{"huge pax header", []Layer{blobLayer(mtTar, paxBomb(t))}, Options{}, "tar header too large"},
		{"truncated tar", []Layer{blobLayer(mtTar, tb[:1500])}, Options{}, "layer is truncated"},
		{"truncated gzip", []Layer{blobLayer(mtGzip, gz[:len(gz)/2])}, Options{}, "layer is truncated"},
		{"gzip checksum", []Layer{blobLayer(mtGzip, badCRC)}, Options{}, "corrupt gzip stream"},
		{"garbage after gzip", []Layer{blobLayer(mtGzip, append(bytes.Clone(gz), "garbage after the stream"...))}, Options{}, "corrupt gzip stream"},
		{"gzip called tar", []Layer{blobLayer(mtTar, gz)}, Options{}, "layer is gzip but its media type says uncompressed"},
		{"tar called gzip", []Layer{blobLayer(mtGzip, tb)}, Options{}, "layer is uncompressed but its media type says gzip"},
		{"zstd called gzip", []Layer{blobLayer(mtGzip, zstdBytes(t, tb))}, Options{}, "layer is zstd but its media type says gzip"},
		{"gzip called zstd", []Layer{blobLayer(mtZstd, gz)}, Options{}, "layer is gzip but its media type says zstd"},
		{"not a tar", []Layer{blobLayer(mtTar, bytes.Repeat([]byte("not a tar at all "), 100))}, Options{}, "invalid tar header"},
		{"empty layer", []Layer{blobLayer(mtTar, nil)}, Options{}, "layer is empty"},
		{"unsupported entry type", []Layer{gzLayer(t, entry{name: "x", typ: 'Z'})}, Options{}, "unsupported tar entry type"},
		{"unsupported media type", []Layer{blobLayer("application/vnd.oci.image.config.v1+json", gz)}, Options{}, "unsupported layer media type"},
		{"digest mismatch", []Layer{wrongDigest}, Options{}, "does not match its digest"},
		{"size mismatch", []Layer{wrongSize}, Options{}, "its manifest says"},
		{"invalid digest", []Layer{badDigest}, Options{}, "invalid layer digest"},
		{"too many entries", []Layer{gzLayer(t, reg("a", "1"), reg("b", "2")), gzLayer(t, reg("c", "3"), reg("d", "4"))}, Options{MaxEntries: 3}, "more than 3 entries"},
		{"too many files", []Layer{gzLayer(t, reg("a", "1"), reg("b", "2"), reg("c", "3"))}, Options{MaxFiles: 2}, "more than 2 regular files"},
		{"long name", []Layer{gzLayer(t, reg(strings.Repeat("a/", 60)+"x", "1"))}, Options{MaxPathBytes: 100}, "entry name longer than 100 bytes"},
		{"long component", []Layer{gzLayer(t, reg(strings.Repeat("a", 256), "1"))}, Options{}, "path component longer than 255 bytes"},
		{"names over the limit", []Layer{gzLayer(t, reg(strings.Repeat("a", 200), "1"), reg(strings.Repeat("b", 200), "2"))}, Options{MaxNameBytes: 300}, "entry names exceed 300 bytes"},
		{"long link target", []Layer{gzLayer(t, symlink("x", strings.Repeat("../", 40)))}, Options{MaxPathBytes: 100}, "entry name longer than 100 bytes"},
		{"file over the limit", []Layer{gzLayer(t, reg("a", strings.Repeat("x", 2000)))}, Options{MaxFileBytes: 1000}, "file larger than 1000 bytes"},
		{"image over the limit", []Layer{gzLayer(t, entry{name: "a", size: 2 << 20})}, Options{MaxImageBytes: 1 << 20}, "image expands past"},
		{"corrupt package database", []Layer{gzLayer(t, reg("etc/os-release", debianRelease), reg("var/lib/dpkg/status", "Package: x\nStatus: bogus\nVersion: 1\n"))}, Options{}, "unreadable package database"},
		{"package database over its cap", []Layer{gzLayer(t, reg("var/lib/dpkg/status", strings.Repeat(dpkgStatus, 4)))}, Options{MaxExtractFileBytes: 1000}, "package database larger than 1000 bytes"},
		{"spool over the limit", []Layer{gzLayer(t, reg("var/lib/dpkg/status", dpkgStatus))}, Options{MaxSpoolBytes: 100}, "files for extractors exceed 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inspect(t, tt.opts, tt.layers...)
			checkReason(t, err, tt.reason)
		})
	}
}

func checkReason(t *testing.T, err error, reason string) {
	t.Helper()
	var se *Error
	if !errors.Is(err, ErrInspectionFailed) || !errors.As(err, &se) {
		t.Fatalf("Inspect = %v, want an inspection failure", err)
	}
	if !strings.Contains(se.Reason, reason) {
		t.Errorf("reason = %q, want it to contain %q", se.Reason, reason)
	}
}

// TestInspectBombs feeds 1 GiB of zeros packed into about 1 MiB and checks
// that the inspection stops with a verdict, having allocated little: a loose
// sanity bound, not a measurement.
func TestInspectBombs(t *testing.T) {
	const mib = 1024
	head := bombHeader(t, mib)
	tests := []struct {
		name   string
		layer  Layer
		opts   Options
		reason string
	}{
		{"gzip ratio", blobLayer(mtGzip, repeated(t, gzipBytes, head, mib)), Options{}, "layer expands more than 250 times"},
		{"zstd ratio", blobLayer(mtZstd, repeated(t, zstdBytes, head, mib)), Options{}, "layer expands more than 250 times"},
		{"image limit", blobLayer(mtGzip, repeated(t, gzipBytes, head, mib)), Options{MaxRatio: 1 << 40, MaxImageBytes: 256 << 20}, "image expands past"},
		{"file limit", blobLayer(mtGzip, repeated(t, gzipBytes, head, mib)), Options{MaxFileBytes: 512 << 20}, "file larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := inspect(t, tt.opts, tt.layer)
			runtime.ReadMemStats(&after)

			checkReason(t, err, tt.reason)
			t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("allocated %d MiB while reading the bomb, want under 16", got>>20)
			}
		})
	}
}

func TestStreamError(t *testing.T) {
	errDisk := errors.New("no space left on device")
	tests := []struct {
		name    string
		err     error
		verdict bool
		reason  string
	}{
		{"truncated", io.ErrUnexpectedEOF, true, "layer is truncated"},
		{"bad header", tar.ErrHeader, true, "invalid tar header"},
		{"gzip checksum", gzip.ErrChecksum, true, "corrupt gzip stream"},
		{"anything else", errors.New("zstd: bad magic"), true, "unreadable layer: zstd: bad magic"},
		{"the host's disk", fmt.Errorf("copy: %w", &localError{errDisk}), false, ""},
		{"cancelled", context.Canceled, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := streamError("sha256:abc", tt.err)
			if !tt.verdict {
				if errors.Is(err, ErrInspectionFailed) {
					t.Errorf("streamError(%v) = %v, want no verdict", tt.err, err)
				}
				return
			}
			checkReason(t, err, tt.reason)
		})
	}
}
