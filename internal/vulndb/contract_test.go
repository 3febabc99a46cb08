package vulndb_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/scan"
)

// dpkgStatus is a bookworm /var/lib/dpkg/status with three binary packages
// built from differently named source packages.
const dpkgStatus = `Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u10
Description: GNU C Library: Shared libraries

Package: libssl3
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.17-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries

Package: liblzma5
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: xz-utils
Version: 5.4.1-0.2
Description: XZ-format compression library

`

// layerOf is a gzip layer holding files.
func layerOf(t *testing.T, files map[string]string) scan.Layer {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarBuf.Bytes())
	zw.Close()
	b := gz.Bytes()
	return scan.Layer{
		Digest:    digest.FromBytes(b),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		Size:      int64(len(b)),
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		},
	}
}

// TestScanContract runs a layer through scan and the inventory it makes
// through Match, so the two sides of the inventory contract (ecosystem
// names, releases, source packages, npm and PyPI names) cannot drift apart
// unnoticed.
func TestScanContract(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "debian-security-tracker/vuln-list-debian", "osv/malicious/npm/chalk", "osv/pypi")
	layer := layerOf(t, map[string]string{
		"etc/os-release":                      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n",
		"var/lib/dpkg/status":                 dpkgStatus,
		"app/node_modules/chalk/package.json": `{"name": "chalk", "version": "5.6.1"}`,
		"usr/lib/python3/dist-packages/PyYAML-5.3.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.3.1\n",
	})
	inv, err := scan.Inspect(context.Background(), []scan.Layer{layer}, scan.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	findings, err := db.Match(context.Background(), inv)
	if err != nil {
		t.Fatal(err)
	}

	got := map[string]bool{}
	for _, f := range findings {
		got[f.Component.Name+" "+f.ID] = f.Malware
	}
	// A sample of what each side must produce, not every open CVE.
	want := map[string]bool{
		"libc6 CVE-2025-4802":        false, // source glibc, no-dsa
		"libssl3 CVE-2025-9230":      false, // source openssl, fixed by DSA
		"liblzma5 CVE-2025-31115":    false, // source xz-utils, fixed by DSA
		"chalk MAL-2025-46969":       true,
		"PyYAML GHSA-8q59-q68h-6hv4": false, // PEP 503 name
	}
	for key, malware := range want {
		m, ok := got[key]
		if !ok {
			t.Errorf("no finding %s; inventory %+v", key, inv.Components)
			continue
		}
		if m != malware {
			t.Errorf("%s: malware %v, want %v", key, m, malware)
		}
	}
	// Fixed in deb12u3, and not-affected in bookworm.
	for _, absent := range []string{"libc6 CVE-2023-4911", "liblzma5 CVE-2024-3094"} {
		if _, ok := got[absent]; ok {
			t.Errorf("found %s, want not", absent)
		}
	}
	if diff := cmp.Diff(inv.Distro, &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}); diff != "" {
		t.Errorf("distro (-got +want):\n%s", diff)
	}
}

// TestScanContractAlpine does the same for an Alpine 3.20 layer, whose
// packages match secdb by origin.
func TestScanContractAlpine(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "alpine-secdb")
	layer := layerOf(t, map[string]string{
		"etc/os-release":       "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n",
		"lib/apk/db/installed": "P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\nP:ssl_client\nV:1.36.1-r29\nA:x86_64\no:busybox\n\nP:zlib\nV:1.3.1-r1\nA:x86_64\no:zlib\n\n",
	})
	inv, err := scan.Inspect(context.Background(), []scan.Layer{layer}, scan.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	got := keys(match(t, db, inv))
	want := []string{
		"busybox CVE-2024-58251", "busybox CVE-2025-46394",
		"ssl_client CVE-2024-58251", "ssl_client CVE-2025-46394",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("findings (-got +want):\n%s\ninventory: %+v", diff, inv.Components)
	}
}
