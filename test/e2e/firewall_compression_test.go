//go:build e2e

package e2e

import (
	"bytes"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"breakwater/test/harness"
)

// TestFirewallLayerCompressions hides the same malicious npm package in a
// layer of each compression a registry may serve: gzip, zstd and none.
// Inspection reads each as its media type says and finds the package.
func TestFirewallLayerCompressions(t *testing.T) {
	tarball := rawTar(t,
		rawEntry{hdr: tarDir("usr/lib/node_modules/debug/")},
		regEntry(npmPackage("debug", "4.4.2").Name, string(npmPackage("debug", "4.4.2").Body)))
	var zst bytes.Buffer
	zw, err := zstd.NewWriter(&zst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarball); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	e := newFWEnv(t, "")
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	cases := []struct {
		name      string
		mediaType types.MediaType
		blob      []byte
	}{
		{"gzip", types.OCILayer, gzipped(t, tarball)},
		{"zstd", types.OCILayerZStd, zst.Bytes()},
		{"uncompressed", types.OCIUncompressedLayer, tarball},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			layer := static.NewLayer(c.blob, c.mediaType)
			img := harness.Assemble(t, harness.OCI, harness.LinuxAMD64, []string{"/bin/sh"}, layer)
			repo := "acme/" + c.name
			e.up.Push(t, repo, "1", img)
			r, _ := e.scan(t, repo+":1", "--firewall", "quarantine")
			if r.Result != "quarantine" || len(r.Evidence.Findings) != 1 || r.Evidence.Findings[0].ID != "MAL-2025-46974" {
				t.Errorf("result %q with findings %+v, want quarantine for MAL-2025-46974", r.Result, r.Evidence.Findings)
			}
		})
	}
}
