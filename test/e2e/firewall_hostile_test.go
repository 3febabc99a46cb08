//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"breakwater/test/harness"
)

// hostileConfig fails closed by default and open in one repository.
const hostileConfig = `firewall:
  repositories:
    - match: docker.io/library/lenient
      mode: quarantine
      fail_open: true
    - match: docker.io/library/loud
      mode: quarantine
      show_reason: true
`

// rawEntry is one tar entry, written as given: no parent directories, no
// clean-up of the name.
type rawEntry struct {
	hdr  tar.Header
	body []byte
}

func regEntry(name, body string) rawEntry {
	return rawEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, []byte(body)}
}

func tarDir(name string) tar.Header {
	return tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}
}

func linkEntry(typ byte, name, target string) rawEntry {
	return rawEntry{hdr: tar.Header{Typeflag: typ, Name: name, Linkname: target, Mode: 0o777}}
}

func rawTar(t *testing.T, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write tar header %s: %v", h.Name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatalf("write tar: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("write tar: %v", err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bomb is a gzip layer of one file of n zero bytes, streamed through the
// compressor so the test never holds n bytes (4 MB and a second per 4 GiB
// at the fastest level, which still reaches gzip's ratio of about 1000).
func bomb(t *testing.T, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Mode: 0o644, Size: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// paxBomb is a tar whose first entry is a 2 MiB PAX extended header: a
// reader that believes it holds it all in memory.
func paxBomb(t *testing.T) []byte {
	t.Helper()
	const size = 2 << 20
	b := rawTar(t, rawEntry{tar.Header{Typeflag: tar.TypeReg, Name: "x", Mode: 0o644, Size: size}, make([]byte, size)})
	b[156] = tar.TypeXHeader
	copy(b[148:156], "        ") // the checksum counts its own field as spaces
	var sum int64
	for _, c := range b[:512] {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// rawImage is a one-layer image whose layer bytes are exactly b, under
// the gzip Docker layer media type whatever b is.
func rawImage(t *testing.T, b []byte) v1.Image {
	t.Helper()
	return harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"}, static.NewLayer(b, types.DockerLayer))
}

// peakRSS is a process's peak resident memory in bytes (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read process status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// judged returns the details of the "judged" audit entry of one digest.
func (e *fwEnv) judged(t *testing.T, repo, d string) string {
	t.Helper()
	out := e.mustCLI(t, "audit", "--repo", repo, "--digest", d, "--action", "judged", "--format", "json")
	var entries []auditEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("parse audit log: %v\n%s", err, out)
	}
	if len(entries) != 1 {
		t.Fatalf("judged entries of %s@%s = %+v, want one", repo, d, entries)
	}
	return entries[0].Details
}

// TestFirewallHostileLayers pulls hostile images with docker through a
// quarantine-mode breakwater. Each one ends in the verdict "inspection
// failed" with its reason and is withheld (fail closed), the path a
// layer aims outside the image root is not written on the host, a
// decompression bomb is stopped with memory bounded, message mode names
// the failure, and breakwater goes on serving a good image. In a
// repository set to fail open the same kind of image is served and
// recorded.
func TestFirewallHostileLayers(t *testing.T) {
	escape := filepath.Join(os.TempDir(), fmt.Sprintf("breakwater-e2e-escape-%d", time.Now().UnixNano()))
	rel := "../../../../../../../.." + escape // climbs to / from wherever it is unpacked
	plain := rawTar(t, regEntry("etc/hostname", "hostile\n"))
	full := gzipped(t, rawTar(t, regEntry("etc/motd", strings.Repeat("truncated ", 4096))))

	cases := []struct {
		name   string
		layer  []byte
		reason string
	}{
		{"dot-dot path", gzipped(t, rawTar(t, regEntry(rel, "escaped\n"))), "path contains .."},
		{
			"hard link out of the root",
			gzipped(t, rawTar(t, linkEntry(tar.TypeLink, "passwd", "../../../../etc/passwd"))),
			"hard link target leaves the image root",
		},
		{"symlink loop", gzipped(t, rawTar(t,
			linkEntry(tar.TypeSymlink, "a", "b"), linkEntry(tar.TypeSymlink, "b", "a"), regEntry("a/x", "y"))), "symlink loop"},
		{"huge pax header", gzipped(t, paxBomb(t)), "tar header too large"},
		{"truncated tar header", gzipped(t, plain[:300]), "layer is truncated"},
		{"tar called gzip", plain, "layer is uncompressed but its media type says gzip"},
		{"truncated gzip", full[:len(full)/2], "layer is truncated"},
		{"decompression bomb", bomb(t, 4<<30), "layer expands more than"},
	}

	e := newFWEnv(t, hostileConfig)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	repos := make([]string, len(cases))
	digests := make([]string, len(cases))
	for i, c := range cases {
		repos[i] = fmt.Sprintf("library/hostile%d", i)
		img := rawImage(t, c.layer)
		digests[i] = harness.Digest(t, img).String()
		e.up.Push(t, repos[i], "1", img)
	}
	lenient := rawImage(t, plain)
	e.up.Push(t, "library/lenient", "1", lenient)
	e.up.Push(t, "library/loud", "1", lenient)
	good := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"}, fileLayer(t, npmPackage("ms", "2.1.3")))
	e.up.Push(t, "library/good", "1", good)

	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := d.PullErr(bw.Ref(repos[i], "1"), "")
			if err == nil {
				t.Fatalf("docker pull succeeded, want the image withheld")
			}
			if !strings.Contains(err.Error(), "manifest unknown") {
				t.Errorf("docker pull: want manifest unknown, got:\n%v", err)
			}
			details := e.judged(t, "docker.io/"+repos[i], digests[i])
			if !strings.Contains(details, "result=inspection-failed") || !strings.Contains(details, c.reason) {
				t.Errorf("verdict = %q, want inspection-failed for %q", details, c.reason)
			}
		})
	}

	if _, err := os.Lstat(escape); err == nil {
		os.Remove(escape)
		t.Errorf("%s exists: a layer's path escaped onto the host", escape)
	}
	// A 4 GiB bomb inflated in memory, or spooled whole, would show here.
	rss := peakRSS(t, bw.Process().PID())
	if rss > 256<<20 {
		t.Errorf("breakwater's peak RSS = %d MiB, want under 256 MiB", rss>>20)
	}
	t.Logf("breakwater's peak RSS after the hostile pulls: %d MiB", rss>>20)

	// In message mode the client is told why, in the policy's place.
	err := d.PullErr(bw.Ref("library/loud", "1"), "")
	if err == nil || !strings.Contains(err.Error(), "blocked by breakwater policy inspection-failed; quarantine id ") {
		t.Errorf("docker pull in message mode: want the inspection-failed message, got %v", err)
	}

	// Breakwater goes on serving, and a fail-open repository serves an
	// image it cannot inspect, recording why.
	d.Pull(t, bw.Ref("library/good", "1"), "")
	d.Pull(t, bw.Ref("library/lenient", "1"), "")
	details := e.judged(t, "docker.io/library/lenient", harness.Digest(t, lenient).String())
	if !strings.Contains(details, "layer is uncompressed but its media type says gzip") {
		t.Errorf("lenient verdict = %q, want the inspection failure recorded", details)
	}
	t.Logf("lenient verdict: %s", details)
}
