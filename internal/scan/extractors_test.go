package scan

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jar is a Java archive as Maven builds it: its coordinates sit in
// META-INF/maven/GROUP/ARTIFACT/pom.properties.
func jar(t *testing.T, group, artifact, version string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
	add("META-INF/maven/"+group+"/"+artifact+"/pom.properties",
		"groupId="+group+"\nartifactId="+artifact+"\nversion="+version+"\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

const fedoraRelease = `NAME=Fedora
VERSION="32 (Container Image)"
ID=fedora
VERSION_ID=32
`

// rpmFixture reads a Berkeley DB rpm database from osv-scalibr's own test
// data in the module cache, since making one needs rpm itself.
func rpmFixture(t *testing.T) string {
	t.Helper()
	dir := goList(t, "-m", "-f", "{{.Dir}}", "github.com/google/osv-scalibr")
	b, err := os.ReadFile(filepath.Join(dir, "extractor/filesystem/os/rpm/testdata/Packages_epoch"))
	if err != nil {
		t.Fatalf("read rpm fixture: %v", err)
	}
	return string(b)
}

func TestInspectMoreEcosystems(t *testing.T) {
	maven := gzLayer(t, reg("opt/app/lib/guava.jar", jar(t, "com.google.guava", "guava", "31.1-jre")))
	rpmdb := gzLayer(t, reg("etc/os-release", fedoraRelease), reg("var/lib/rpm/Packages", rpmFixture(t)))
	egg := gzLayer(t, reg("usr/lib/python3/site-packages/six-1.16.0.egg-info/PKG-INFO", "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n"))

	gem := gzLayer(t, reg("usr/local/bundle/specifications/rack-3.0.8.gemspec",
		"# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"3.0.8\"\nend\n"))

	tests := []struct {
		name  string
		layer Layer
		want  []short
	}{
		{"java archive", maven, []short{
			{"Maven", "com.google.guava:guava", "31.1-jre", "", "", "opt/app/lib/guava.jar", maven.Digest},
		}},
		{"rpm database", rpmdb, []short{
			{"", "hello", "1:0.0.1-rls", "hello", "0.0.1-rls", "var/lib/rpm/Packages", rpmdb.Digest},
		}},
		{"gemspec", gem, []short{
			{"RubyGems", "rack", "3.0.8", "", "", "usr/local/bundle/specifications/rack-3.0.8.gemspec", gem.Digest},
		}},
		{"egg-info", egg, []short{
			{"PyPI", "six", "1.16.0", "", "", "usr/lib/python3/site-packages/six-1.16.0.egg-info/PKG-INFO", egg.Digest},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			inv, err := inspect(t, Options{TempDir: tmp}, tt.layer)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(shorten(inv.Components), tt.want); diff != "" {
				t.Errorf("components (-got +want):\n%s", diff)
			}
		})
	}
}
