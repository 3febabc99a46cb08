//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"breakwater/test/harness"
)

// alpineBusybox is an Alpine 3.20 root with busybox 1.36.1-r28 installed,
// as apk records it.
func alpineBusybox() []file {
	return []file{
		{Name: "etc/os-release", Mode: 0o644, Body: lines(
			`NAME="Alpine Linux"`,
			"ID=alpine",
			"VERSION_ID=3.20.3",
			`PRETTY_NAME="Alpine Linux v3.20"`,
		)},
		{Name: "lib/apk/db/installed", Mode: 0o644, Body: lines(
			"C:Q1e2e0000000000000000000000000000=",
			"P:busybox",
			"V:1.36.1-r28",
			"A:x86_64",
			"S:512000",
			"I:1024000",
			"T:Size optimized toolbox of many common UNIX utilities",
			"U:https://busybox.net/",
			"L:GPL-2.0-only",
			"o:busybox",
			"m:Sören Tempel <soeren+alpine@soeren-tempel.net>",
			"t:1700000000",
			"c:0000000000000000000000000000000000000000",
			"",
		)},
	}
}

// lines joins lines, each ending in a newline.
func lines(ls ...string) []byte {
	return []byte(strings.Join(ls, "\n") + "\n")
}

// pyDist is the dist-info METADATA of an installed Python package.
func pyDist(name, version string) file {
	return file{
		Name: "usr/lib/python3/site-packages/" + name + "-" + version + ".dist-info/METADATA",
		Mode: 0o644,
		Body: lines("Metadata-Version: 2.1", "Name: "+name, "Version: "+version),
	}
}

// TestFirewallEcosystems judges one image per further kind of data with
// `breakwater scan`: Alpine secdb fixes matched by apk version order, a
// malicious PyPI package from its dist-info, GitHub advisories for npm
// (SemVer) and PyPI (PEP 440) packages, and a file whose sha256 is
// on a known-bad list even though a later layer deletes it (its bytes
// still reach every client).
func TestFirewallEcosystems(t *testing.T) {
	marker := []byte("breakwater e2e: a file on the known-bad list\n")
	sum := sha256.Sum256(marker)
	badList := filepath.Join(t.TempDir(), "known-bad.txt")
	if err := os.WriteFile(badList, []byte("sha256:"+hex.EncodeToString(sum[:])+" e2e marker file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	e := newFWEnv(t, "")
	e.importRecords(t, vulnTestdata(t, "alpine-secdb"))
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "pypi"))
	e.importRecords(t, badList)
	e.importRecords(t, vulnTestdata(t, "osv", "npm"))
	e.importRecords(t, vulnTestdata(t, "osv", "pypi"))

	img := func(layers ...v1.Layer) v1.Image {
		return harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/bin/sh"}, layers...)
	}
	cases := []struct {
		name   string
		image  v1.Image
		result string
		// want lists "id package path fixed-version" of every finding.
		want []string
	}{
		{
			name:   "alpine",
			image:  img(fileLayer(t, alpineBusybox()...)),
			result: "audit", // the shipped "fixable" policy warns
			want: []string{
				"CVE-2023-42364 busybox lib/apk/db/installed 1.36.1-r29",
				"CVE-2023-42365 busybox lib/apk/db/installed 1.36.1-r29",
				"CVE-2024-58251 busybox lib/apk/db/installed 1.36.1-r31",
				"CVE-2025-46394 busybox lib/apk/db/installed 1.36.1-r31",
			},
		},
		{
			name: "pypi",
			image: img(fileLayer(t, file{
				Name: "usr/lib/python3/site-packages/a_oder-8.0.0.dist-info/METADATA", Mode: 0o644,
				Body: []byte("Metadata-Version: 2.1\nName: a-oder\nVersion: 8.0.0\n"),
			})),
			result: "quarantine",
			want:   []string{"MAL-2024-12186 a-oder usr/lib/python3/site-packages/a_oder-8.0.0.dist-info/METADATA "},
		},
		{
			// SemVer with prereleases: 5.0.0-beta.1 is after 5.0.0-alpha.1 and
			// before 5.0.0-beta.3; 1.2.6 is minimist's fix itself.
			name: "npm",
			image: img(fileLayer(t,
				npmPackage("express", "5.0.0-beta.1"),
				npmPackage("lodash", "4.17.20"),
				npmPackage("minimist", "1.2.6"),
			)),
			result: "audit",
			want: []string{
				"GHSA-35jh-r3h4-6jhm lodash usr/lib/node_modules/lodash/package.json 4.17.21",
				"GHSA-qw6h-vgh9-j6wx express usr/lib/node_modules/express/package.json 5.0.0",
				"GHSA-rv95-896h-c2vc express usr/lib/node_modules/express/package.json 5.0.0-beta.3",
			},
		},
		{
			// PEP 440: 2.31.0 is the end of one requests range and inside
			// another; urllib3 2.0.6 is one fix and before the next.
			name: "pypi versions",
			image: img(fileLayer(t,
				pyDist("requests", "2.31.0"),
				pyDist("urllib3", "2.0.6"),
				pyDist("PyYAML", "5.4"),
			)),
			result: "audit",
			want: []string{
				"GHSA-34jh-p97f-mpxf urllib3 " + pyDist("urllib3", "2.0.6").Name + " 2.2.2",
				"GHSA-9wx4-h78v-vm56 requests " + pyDist("requests", "2.31.0").Name + " 2.32.2",
			},
		},
		{
			name: "known-bad file",
			image: img(
				fileLayer(t, file{Name: "opt/tool/marker.txt", Mode: 0o644, Body: marker}),
				fileLayer(t, file{Name: "opt/tool/.wh.marker.txt", Mode: 0o644}),
			),
			result: "quarantine",
			want:   []string{"sha256:" + hex.EncodeToString(sum[:]) + " marker.txt opt/tool/marker.txt "},
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := "acme/eco" + string(rune('a'+i))
			e.up.Push(t, repo, "1", c.image)
			r, _ := e.scan(t, repo+":1", "--firewall", "quarantine")
			if r.Result != c.result {
				t.Errorf("result = %q (policies %v), want %q", r.Result, r.policies(), c.result)
			}
			var got []string
			for _, f := range r.Evidence.Findings {
				got = append(got, f.ID+" "+f.Component.Name+" "+f.Component.Path+" "+f.FixedVersion)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("findings = %q, want %q", got, c.want)
			}
		})
	}
}
