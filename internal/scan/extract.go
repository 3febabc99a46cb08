package scan

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
	"breakwater/internal/telemetry"
)

// javaOpenedBytes bounds what the archive extractor unpacks from one jar,
// nested jars included, so a zip bomb inside a layer stays small.
const javaOpenedBytes = 256 << 20

// extractorSpec is one osv-scalibr extractor and when it runs. Eager ones
// read only the file they are given, so they run while the layer streams
// and their file need not be kept. Deferred ones (the OS package databases)
// also read /etc/os-release, so they run on the merged tree at the end.
type extractorSpec struct {
	filesystem.Extractor
	deferred bool
	// realPath: the extractor opens the file by a host path (rpm's
	// databases go to SQLite or a BDB reader), so it gets the spool file.
	realPath bool
	// binary: only files that start like an executable format are worth
	// its time; the Go extractor otherwise gets every script with an x bit.
	binary bool
	// maxBytes is the largest file it gets. The extractors' own size
	// checks are turned off so that a package database over the cap can
	// fail the inspection instead of silently hiding its packages.
	maxBytes int64
}

// Caps for formats the extractors parse in memory; real dpkg and apk
// databases stay under a few MiB, package metadata under a few KiB.
const (
	maxDatabaseBytes = 64 << 20
	maxMetadataBytes = 8 << 20
)

// TODO: PHP composer installs and .NET dependencies are not read yet, so
// images built on those stacks show only their OS packages and whatever
// else is listed here.
func extractors(opts Options) []extractorSpec {
	cfg := &cpb.PluginConfig{
		MaxFileSizeBytes: math.MaxInt64,
		PluginSpecific: []*cpb.PluginSpecificConfig{{
			Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{
				MaxOpenedBytes: javaOpenedBytes,
				MaxZipDepth:    8,
			}},
		}},
	}
	var specs []extractorSpec
	add := func(newFn func(*cpb.PluginConfig) (filesystem.Extractor, error), spec extractorSpec) {
		// These constructors only copy the config; none returns an error.
		e, err := newFn(cfg)
		if err != nil {
			panic(fmt.Sprintf("scan: build extractor: %v", err))
		}
		spec.Extractor = e
		specs = append(specs, spec)
	}
	big := opts.MaxExtractFileBytes
	add(dpkg.New, extractorSpec{deferred: true, maxBytes: min(big, maxDatabaseBytes)})
	add(apk.New, extractorSpec{deferred: true, maxBytes: min(big, maxDatabaseBytes)})
	add(rpm.New, extractorSpec{deferred: true, realPath: true, maxBytes: big})
	add(gobinary.New, extractorSpec{binary: true, maxBytes: big})
	add(packagejson.New, extractorSpec{maxBytes: min(big, maxMetadataBytes)})
	add(wheelegg.New, extractorSpec{maxBytes: min(big, maxMetadataBytes)})
	add(archive.New, extractorSpec{maxBytes: big})
	add(gemspec.New, extractorSpec{maxBytes: min(big, maxMetadataBytes)})
	add(cargoauditable.New, extractorSpec{binary: true, maxBytes: big})
	return specs
}

// executableMagic lists the formats debug/buildinfo reads (ELF, PE,
// Mach-O both ways round, XCOFF, WebAssembly); Plan 9 binaries are left out.
var executableMagic = [][]byte{
	[]byte("\x7fELF"), []byte("MZ"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	{0x01, 0xdf}, {0x01, 0xf7}, []byte("\x00asm"),
}

func isExecutable(head []byte) bool {
	for _, m := range executableMagic {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

// dropNonBinary removes extractors that want executables when head is not
// one.
func (in *inspection) dropNonBinary(w *wants, head []byte) {
	if isExecutable(head) {
		return
	}
	w.eager = slices.DeleteFunc(w.eager, func(i int) bool { return in.exts[i].binary })
}

func (in *inspection) wantsBinary(w wants) bool {
	return slices.ContainsFunc(w.eager, func(i int) bool { return in.exts[i].binary })
}

// wants lists the extractors that asked for one file.
type wants struct {
	eager, deferred []int
	osRelease       bool
	disk            bool // some extractor needs a host path
}

func (w wants) any() bool  { return len(w.eager) > 0 || w.keep() }
func (w wants) keep() bool { return len(w.deferred) > 0 || w.osRelease }

// wanted asks every extractor about one file. A package database too big
// to read is an error; other files too big are skipped.
func (in *inspection) wanted(p string, fi fs.FileInfo) (wants, error) {
	var w wants
	api := fileAPI{path: p, fi: fi}
	for i, e := range in.exts {
		if !e.FileRequired(api) {
			continue
		}
		if fi.Size() > e.maxBytes {
			if e.deferred {
				return w, &Error{Reason: fmt.Sprintf("package database larger than %d bytes", e.maxBytes)}
			}
			in.opts.Logger.Debug("file too large to extract", telemetry.KeyExtractor, e.Name(), telemetry.KeyPath, p, telemetry.KeyBytes, fi.Size())
			continue
		}
		w.disk = w.disk || e.realPath
		if e.deferred {
			w.deferred = append(w.deferred, i)
		} else {
			w.eager = append(w.eager, i)
		}
	}
	// The distro and the OS extractors read these through the tree.
	w.osRelease = (p == "etc/os-release" || p == "usr/lib/os-release") && fi.Size() <= maxMetadataBytes
	return w, nil
}

// extractNow runs eager extractors on a file as it streams past.
func (in *inspection) extractNow(idx []int, p string, n *node, b *blob) ([]*extractor.Package, error) {
	var pkgs []*extractor.Package
	for _, i := range idx {
		found, err := in.run(in.exts[i], p, n, b)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, found...)
	}
	return pkgs, nil
}

// run hands one file to one extractor. A package database that cannot be
// read fails the inspection, since its packages would go unseen; any other
// extractor's error is logged and the file skipped, as a malformed
// package.json among thousands should not fail an image. A symlink loop met
// on the way fails it too.
func (in *inspection) run(e extractorSpec, p string, n *node, b *blob) ([]*extractor.Package, error) {
	rc, err := b.open()
	if err != nil {
		return nil, &localError{fmt.Errorf("open spooled %s: %w", p, err)}
	}
	defer rc.Close()

	input := &filesystem.ScanInput{FS: in.fs, Path: p, Info: info{name: filepath.Base(p), n: n}, Reader: rc}
	if e.realPath {
		// The spool file's name, never the layer's, reaches the host.
		input.Root, input.Path = filepath.Split(b.file)
	}
	inv, err := e.Extract(in.ctx, input)
	if in.fs.loop != "" {
		return nil, &Error{Path: in.fs.loop, Reason: "symlink loop"}
	}
	if err != nil {
		if ctxErr := in.ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if e.deferred {
			return nil, &Error{Path: p, Reason: "unreadable package database: " + err.Error()}
		}
		in.opts.Logger.Debug("extractor skipped a file", telemetry.KeyExtractor, e.Name(), telemetry.KeyPath, p, telemetry.KeyError, err)
		return nil, nil
	}
	for _, pkg := range inv.Packages {
		pkg.Plugins = []string{e.Name()}
	}
	return inv.Packages, nil
}

// finish runs the deferred extractors on the merged tree and assembles the
// inventory.
func (in *inspection) finish() (*inventory.Inventory, error) {
	inv := &inventory.Inventory{Components: []inventory.Component{}, Files: in.files}
	m, err := osrelease.GetOSRelease(in.fs)
	if in.fs.loop != "" {
		return nil, &Error{Path: in.fs.loop, Reason: "symlink loop"}
	}
	if err == nil && m["ID"] != "" {
		inv.Distro = &inventory.Distro{ID: m["ID"], VersionID: m["VERSION_ID"], Codename: m["VERSION_CODENAME"]}
	}

	err = in.tree.walk(func(p string, n *node) error {
		if n.kind != kindFile || n.extra == nil {
			return nil
		}
		layer := in.layers[n.layer]
		for _, pkg := range n.extra.pkgs {
			inv.Components = append(inv.Components, component(pkg, layer, p))
		}
		for _, i := range n.extra.deferred {
			found, err := in.run(in.exts[i], p, n, n.extra.blob)
			if se, ok := err.(*Error); ok && se.Layer == "" {
				se.Layer = layer
			}
			if err != nil {
				return err
			}
			for _, pkg := range found {
				inv.Components = append(inv.Components, component(pkg, layer, p))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// component maps an osv-scalibr package to the inventory's terms: OSV
// ecosystems with the distro release, source packages where the format has
// them, and Go's toolchain under the name OSV gives it.
func component(pkg *extractor.Package, layer digest.Digest, p string) inventory.Component {
	c := inventory.Component{
		Ecosystem: pkg.Ecosystem().String(),
		Name:      pkg.Name,
		Version:   pkg.Version,
		Layer:     layer,
		Path:      p,
	}
	if u := pkg.PURL(); u != nil {
		c.PURL = u.String()
	}

	switch m := pkg.Metadata.(type) {
	case *dpkgmeta.Metadata:
		c.SourceName, c.SourceVersion = m.SourceName, m.SourceVersion
	case *apkmeta.Metadata:
		c.SourceName = m.OriginName
	case *rpmmeta.Metadata:
		c.SourceName, c.SourceVersion = splitSourceRPM(m.SourceRPM)
		// RPM orders by epoch first; the extractor leaves it out of Version.
		if m.Epoch > 0 {
			c.Version = fmt.Sprintf("%d:%s", m.Epoch, c.Version)
		}
	}
	if c.SourceName != "" && c.SourceVersion == "" {
		c.SourceVersion = c.Version
	}
	if c.SourceName == "" && isDistro(c.Ecosystem) {
		c.SourceName, c.SourceVersion = c.Name, c.Version
	}

	c.Ecosystem = ubuntuLTS(c.Ecosystem)

	// The Go extractor names the toolchain "go"; OSV's Go records call the
	// standard library "stdlib".
	if c.Ecosystem == inventory.Go && c.Name == "go" {
		c.Name = "stdlib"
	}
	return c
}

// ubuntuLTS adds the ":LTS" OSV puts on long-term releases (even years,
// April: "Ubuntu:22.04:LTS"), which osv-scalibr leaves off.
func ubuntuLTS(ecosystem string) string {
	release, ok := strings.CutPrefix(ecosystem, "Ubuntu:")
	if !ok {
		return ecosystem
	}
	year, month, ok := strings.Cut(release, ".")
	y, err := strconv.Atoi(year)
	if !ok || err != nil || month != "04" || y%2 != 0 {
		return ecosystem
	}
	return ecosystem + ":LTS"
}

func isDistro(ecosystem string) bool {
	name, _, _ := strings.Cut(ecosystem, ":")
	return name == inventory.Debian || name == inventory.Alpine || name == "Ubuntu" || name == inventory.RedHat
}

// splitSourceRPM reads "name-version-release.src.rpm".
func splitSourceRPM(s string) (string, string) {
	s = strings.TrimSuffix(s, ".src.rpm")
	rel := strings.LastIndexByte(s, '-')
	if rel <= 0 {
		return "", ""
	}
	ver := strings.LastIndexByte(s[:rel], '-')
	if ver <= 0 {
		return "", ""
	}
	return s[:ver], s[ver+1:]
}
