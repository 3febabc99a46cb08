package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/oci"
)

const debianRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION_CODENAME=bookworm
ID=debian
`

const dpkgStatus = `Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Description: GCC support library

Package: removed
Status: deinstall ok config-files
Version: 1.0
`

const alpineRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
`

const apkInstalled = `C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
o:musl
m:Maintainer <m@example.org>

C:Q1def=
P:libcrypto3
V:3.3.2-r0
A:x86_64
o:openssl
m:Maintainer <m@example.org>

`

func packageJSON(name, version string) string {
	return fmt.Sprintf(`{"name": %q, "version": %q}`, name, version)
}

const pyMetadata = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: HTTP\n"

// short keeps what a component test checks: where it came from and what it is.
type short struct {
	Ecosystem, Name, Version, SourceName, SourceVersion, Path string
	Layer                                                     digest.Digest
}

func shorten(cs []inventory.Component) []short {
	var out []short
	for _, c := range cs {
		out = append(out, short{c.Ecosystem, c.Name, c.Version, c.SourceName, c.SourceVersion, c.Path, c.Layer})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Path+out[i].Name < out[j].Path+out[j].Name
	})
	return out
}

func TestInspectComponents(t *testing.T) {
	debian := gzLayer(t,
		dir("usr/"), dir("usr/lib/"), reg("usr/lib/os-release", debianRelease),
		dir("etc/"), symlink("etc/os-release", "../usr/lib/os-release"),
		reg("var/lib/dpkg/status", dpkgStatus))
	alpine := gzLayer(t,
		reg("etc/os-release", alpineRelease),
		reg("lib/apk/db/installed", apkInstalled))
	npm := gzLayer(t,
		reg("app/node_modules/left-pad/package.json", packageJSON("left-pad", "1.3.0")))
	pypi := gzLayer(t,
		reg("usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA", pyMetadata))
	ubuntu := gzLayer(t,
		reg("etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n"),
		reg("var/lib/dpkg/status", "Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.11.dfsg-2ubuntu9.2\n"))
	statusD := gzLayer(t,
		reg("etc/os-release", debianRelease),
		reg("var/lib/dpkg/status.d/base", "Package: base-files\nVersion: 12.4+deb12u7\nArchitecture: amd64\n"))

	tests := []struct {
		name   string
		layer  Layer
		distro *inventory.Distro
		want   []short
	}{
		{"dpkg", debian, &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}, []short{
			{"Debian:12", "bash", "5.2.15-2+b7", "bash", "5.2.15-2+b7", "var/lib/dpkg/status", debian.Digest},
			{"Debian:12", "libgcc-s1", "12.2.0-14", "gcc-12", "12.2.0-14", "var/lib/dpkg/status", debian.Digest},
			{"Debian:12", "libssl3", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1", "var/lib/dpkg/status", debian.Digest},
		}},
		{"ubuntu", ubuntu, &inventory.Distro{ID: "ubuntu", VersionID: "22.04", Codename: "jammy"}, []short{
			{"Ubuntu:22.04:LTS", "zlib1g", "1:1.2.11.dfsg-2ubuntu9.2", "zlib", "1:1.2.11.dfsg-2ubuntu9.2", "var/lib/dpkg/status", ubuntu.Digest},
		}},
		{"dpkg status.d", statusD, &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}, []short{
			{"Debian:12", "base-files", "12.4+deb12u7", "base-files", "12.4+deb12u7", "var/lib/dpkg/status.d/base", statusD.Digest},
		}},
		{"apk", alpine, &inventory.Distro{ID: "alpine", VersionID: "3.20.3"}, []short{
			{"Alpine:v3.20", "libcrypto3", "3.3.2-r0", "openssl", "3.3.2-r0", "lib/apk/db/installed", alpine.Digest},
			{"Alpine:v3.20", "musl", "1.2.5-r0", "musl", "1.2.5-r0", "lib/apk/db/installed", alpine.Digest},
		}},
		{"npm", npm, nil, []short{
			{"npm", "left-pad", "1.3.0", "", "", "app/node_modules/left-pad/package.json", npm.Digest},
		}},
		{"pypi", pypi, nil, []short{
			{"PyPI", "requests", "2.31.0", "", "", "usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA", pypi.Digest},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inspect(t, Options{}, tt.layer)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(inv.Distro, tt.distro); diff != "" {
				t.Errorf("distro (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(shorten(inv.Components), tt.want); diff != "" {
				t.Errorf("components (-got +want):\n%s", diff)
			}
		})
	}
}

func TestUbuntuLTS(t *testing.T) {
	tests := map[string]string{
		"Ubuntu:22.04": "Ubuntu:22.04:LTS",
		"Ubuntu:24.04": "Ubuntu:24.04:LTS",
		"Ubuntu:24.10": "Ubuntu:24.10",
		"Ubuntu:23.04": "Ubuntu:23.04",
		"Ubuntu":       "Ubuntu",
		"Debian:12":    "Debian:12",
	}
	for in, want := range tests {
		if got := ubuntuLTS(in); got != want {
			t.Errorf("ubuntuLTS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInspectPURL(t *testing.T) {
	inv, err := inspect(t, Options{}, gzLayer(t,
		reg("etc/os-release", debianRelease),
		reg("var/lib/dpkg/status", dpkgStatus)))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	got := map[string]string{}
	for _, c := range inv.Components {
		got[c.Name] = c.PURL
	}
	want := "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=bookworm&source=openssl"
	if got["libssl3"] != want {
		t.Errorf("libssl3 purl = %q, want %q", got["libssl3"], want)
	}
}

// goBinary builds a tiny program with the toolchain running the test, so its
// build info names that toolchain, the main module and any dependency in
// goMod. Dependencies come from the module cache only: the test module's
// own requirements put them there.
func goBinary(t *testing.T, goMod, mainGo string) []byte {
	t.Helper()
	src := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", goMod)
	write("main.go", mainGo)
	out := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goList asks the go command about this repository's module graph.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestInspectGoBinary(t *testing.T) {
	goVersion := strings.TrimPrefix(runtimeGoVersion(t), "go")
	textVersion := goList(t, "-m", "-f", "{{.Version}}", "golang.org/x/text")

	tests := []struct {
		name   string
		goMod  string
		mainGo string
		want   []string // name@version
	}{
		{"standard library only",
			"module example.com/hello\n\ngo 1.22\n",
			"package main\n\nfunc main() { println(\"hello\") }\n",
			[]string{"example.com/hello@(devel)", "stdlib@" + goVersion}},
		{"with a module dependency",
			"module example.com/hello\n\ngo 1.22\n\nrequire golang.org/x/text " + textVersion + "\n",
			"package main\n\nimport \"golang.org/x/text/language\"\n\nfunc main() { println(language.English.String()) }\n",
			[]string{"example.com/hello@(devel)", "golang.org/x/text@" + strings.TrimPrefix(textVersion, "v"), "stdlib@" + goVersion}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := goBinary(t, tt.goMod, tt.mainGo)
			l := gzLayer(t, entry{name: "usr/local/bin/hello", body: string(bin), mode: 0o755})
			inv, err := inspect(t, Options{}, l)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			var got []string
			for _, c := range inv.Components {
				if c.Ecosystem != inventory.Go || c.Path != "usr/local/bin/hello" || c.Layer != l.Digest {
					t.Errorf("component %+v: want Go, found at usr/local/bin/hello in %s", c, l.Digest)
				}
				got = append(got, c.Name+"@"+c.Version)
			}
			if diff := cmp.Diff(got, tt.want, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("components (-got +want):\n%s", diff)
			}
		})
	}
}

func runtimeGoVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestInspectLayersMerge(t *testing.T) {
	pkg := func(dir, name, version string) entry {
		return reg(dir+"/"+name+"/package.json", packageJSON(name, version))
	}
	base := gzLayer(t, pkg("app/node_modules", "a", "1.0.0"), pkg("app/node_modules", "b", "1.0.0"), pkg("srv/node_modules", "c", "1.0.0"))

	tests := []struct {
		name  string
		upper []entry
		want  []string // name@version@layer index
	}{
		{"nothing hidden", []entry{reg("README", "hi")},
			[]string{"a@1.0.0@0", "b@1.0.0@0", "c@1.0.0@0"}},
		{"whiteout file", []entry{reg("app/node_modules/a/.wh.package.json", "")},
			[]string{"b@1.0.0@0", "c@1.0.0@0"}},
		{"whiteout dir", []entry{reg("app/node_modules/.wh.b", "")},
			[]string{"a@1.0.0@0", "c@1.0.0@0"}},
		{"opaque dir", []entry{reg("app/node_modules/.wh..wh..opq", ""), pkg("app/node_modules", "d", "2.0.0")},
			[]string{"c@1.0.0@0", "d@2.0.0@1"}},
		{"opaque dir after its own entries", []entry{pkg("app/node_modules", "d", "2.0.0"), reg("app/node_modules/.wh..wh..opq", "")},
			[]string{"c@1.0.0@0", "d@2.0.0@1"}},
		{"whiteout keeps its own layer", []entry{pkg("srv/node_modules", "e", "1.0.0"), reg("srv/.wh.node_modules", "")},
			[]string{"a@1.0.0@0", "b@1.0.0@0", "e@1.0.0@1"}},
		{"overwrite moves the layer", []entry{pkg("app/node_modules", "a", "1.0.1")},
			[]string{"a@1.0.1@1", "b@1.0.0@0", "c@1.0.0@0"}},
		{"file replaces directory", []entry{reg("srv/node_modules", "not a dir")},
			[]string{"a@1.0.0@0", "b@1.0.0@0"}},
		{"write through a symlinked parent", []entry{symlink("lib", "srv"), pkg("lib/node_modules", "f", "1.0.0")},
			[]string{"a@1.0.0@0", "b@1.0.0@0", "c@1.0.0@0", "f@1.0.0@1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upper := gzLayer(t, tt.upper...)
			inv, err := inspect(t, Options{}, base, upper)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			idx := map[digest.Digest]int{base.Digest: 0, upper.Digest: 1}
			var got []string
			for _, c := range inv.Components {
				got = append(got, fmt.Sprintf("%s@%s@%d", c.Name, c.Version, idx[c.Layer]))
			}
			if diff := cmp.Diff(got, tt.want, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("components (-got +want):\n%s", diff)
			}
		})
	}
}

func TestInspectSkipsLargeMetadata(t *testing.T) {
	big := fmt.Sprintf(`{"name": "big", "version": "1.0.0", "pad": %q}`, strings.Repeat("x", 2000))
	inv, err := inspect(t, Options{MaxExtractFileBytes: 1000}, gzLayer(t,
		reg("app/node_modules/big/package.json", big),
		reg("app/node_modules/small/package.json", packageJSON("small", "1.0.0"))))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if len(inv.Components) != 1 || inv.Components[0].Name != "small" {
		t.Errorf("components = %+v, want only small", inv.Components)
	}
}

func TestInspectDistro(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    *inventory.Distro
	}{
		{"plain file", []entry{reg("etc/os-release", alpineRelease)}, &inventory.Distro{ID: "alpine", VersionID: "3.20.3"}},
		{"relative symlink", []entry{reg("usr/lib/os-release", alpineRelease), symlink("etc/os-release", "../usr/lib/os-release")},
			&inventory.Distro{ID: "alpine", VersionID: "3.20.3"}},
		// An absolute target is read inside the image, and ".." stops at its
		// root: nothing of the host is read.
		{"absolute symlink stays inside", []entry{reg("usr/lib/os-release", alpineRelease), symlink("etc/os-release", "/../../../usr/lib/os-release")},
			&inventory.Distro{ID: "alpine", VersionID: "3.20.3"}},
		{"symlink to a host path", []entry{dir("etc/"), symlink("etc/os-release", "/proc/self/root/etc/os-release")}, nil},
		{"usr/lib fallback", []entry{dir("etc/"), reg("usr/lib/os-release", debianRelease)},
			&inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm"}},
		{"none", []entry{reg("hello", "hi")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inspect(t, Options{}, gzLayer(t, tt.entries...))
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if diff := cmp.Diff(inv.Distro, tt.want); diff != "" {
				t.Errorf("distro (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLayers(t *testing.T) {
	blobs := map[digest.Digest][]byte{}
	var descs []oci.Descriptor
	for i, name := range []string{"a", "b"} {
		b := gzipBytes(t, tarball(t, reg(fmt.Sprintf("app/node_modules/%s/package.json", name), packageJSON(name, fmt.Sprintf("1.0.%d", i)))))
		d := digest.FromBytes(b)
		blobs[d] = b
		descs = append(descs, oci.Descriptor{MediaType: mtGzip, Digest: d, Size: int64(len(b))})
	}
	open := func(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blobs[d])), nil
	}

	inv, err := inspect(t, Options{}, Layers(descs, open)...)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	var got []string
	for _, c := range inv.Components {
		got = append(got, c.Name+"@"+c.Version+"@"+c.Layer.String())
	}
	want := []string{"a@1.0.0@" + descs[0].Digest.String(), "b@1.0.1@" + descs[1].Digest.String()}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("components (-got +want):\n%s", diff)
	}
}

func TestInspectFiles(t *testing.T) {
	l0 := gzLayer(t, reg("a", "one"), reg("empty", ""), dir("d/"), reg("d/b", "two"))
	l1 := gzLayer(t, reg("a", "three"), reg(".wh.d", ""))
	inv, err := inspect(t, Options{}, l0, l1)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	// Hidden and overwritten files are listed too: their bytes still reach
	// every client that pulls the image.
	want := []inventory.File{
		{Layer: l0.Digest, Path: "a", Digest: digest.FromString("one")},
		{Layer: l0.Digest, Path: "d/b", Digest: digest.FromString("two")},
		{Layer: l1.Digest, Path: "a", Digest: digest.FromString("three")},
	}
	if diff := cmp.Diff(inv.Files, want); diff != "" {
		t.Errorf("files (-got +want):\n%s", diff)
	}
}

func TestInspectCompressions(t *testing.T) {
	tb := tarball(t, reg("app/node_modules/x/package.json", packageJSON("x", "1.0.0")))
	tests := []struct {
		name  string
		layer Layer
	}{
		{"tar", blobLayer(mtTar, tb)},
		{"gzip", blobLayer(mtGzip, gzipBytes(t, tb))},
		{"zstd", blobLayer(mtZstd, zstdBytes(t, tb))},
		{"docker gzip", blobLayer("application/vnd.docker.image.rootfs.diff.tar.gzip", gzipBytes(t, tb))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inspect(t, Options{}, tt.layer)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if len(inv.Components) != 1 || inv.Components[0].Name != "x" {
				t.Errorf("components = %+v, want x", inv.Components)
			}
		})
	}
}

// failingReader gives some bytes, then the error a broken disk would.
type failingReader struct {
	b   []byte
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, f.err
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

func TestInspectReadErrorsAreNotVerdicts(t *testing.T) {
	errDisk := errors.New("disk on fire")
	good := gzLayer(t, reg("a", strings.Repeat("x", 1<<16)))
	b, _ := io.ReadAll(must(good.Open(context.Background())))

	tests := []struct {
		name string
		open func(context.Context) (io.ReadCloser, error)
	}{
		{"open fails", func(context.Context) (io.ReadCloser, error) { return nil, errDisk }},
		{"read fails midway", func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(&failingReader{b: b[:len(b)/2], err: errDisk}), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := good
			l.Open = tt.open
			_, err := inspect(t, Options{}, l)
			if !errors.Is(err, errDisk) || errors.Is(err, ErrInspectionFailed) {
				t.Errorf("Inspect = %v, want the disk error and no verdict", err)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Inspect(ctx, []Layer{good}, Options{TempDir: t.TempDir()})
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrInspectionFailed) {
			t.Errorf("Inspect = %v, want context.Canceled and no verdict", err)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestInspectConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := gzLayer(t,
				reg("etc/os-release", debianRelease),
				reg("var/lib/dpkg/status", dpkgStatus),
				reg(fmt.Sprintf("app/node_modules/p%d/package.json", i), packageJSON(fmt.Sprintf("p%d", i), "1.0.0")))
			inv, err := Inspect(context.Background(), []Layer{l}, Options{TempDir: t.TempDir()})
			if err == nil && len(inv.Components) != 4 {
				err = fmt.Errorf("image %d: %d components, want 4", i, len(inv.Components))
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

func TestInspectLeavesNoSpool(t *testing.T) {
	tmp := t.TempDir()
	big := strings.Repeat("Package: x\nStatus: install ok installed\nVersion: 1\n\n", 1<<15) // > memoryBlob
	_, err := Inspect(context.Background(), []Layer{gzLayer(t, reg("var/lib/dpkg/status", big))}, Options{TempDir: tmp})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	left, _ := os.ReadDir(tmp)
	if len(left) != 0 {
		t.Errorf("temp dir holds %d entries after Inspect, want 0", len(left))
	}
}

func TestInspectEmptyLayers(t *testing.T) {
	tests := []struct {
		name  string
		layer Layer
	}{
		{"gzip of nothing", blobLayer(mtGzip, gzipBytes(t, nil))},
		{"gzip of an empty tar", blobLayer(mtGzip, gzipBytes(t, tarball(t)))},
		{"empty tar", blobLayer(mtTar, tarball(t))},
		{"zstd of an empty tar", blobLayer(mtZstd, zstdBytes(t, tarball(t)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inspect(t, Options{}, tt.layer)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if len(inv.Components) != 0 || len(inv.Files) != 0 || inv.Distro != nil {
				t.Errorf("inventory = %+v, want empty", inv)
			}
		})
	}
}
