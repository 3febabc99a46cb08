package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
)

// maxComponent is Linux's NAME_MAX: no runtime could unpack a longer name.
const maxComponent = 255

// memoryBlob is the largest file kept in memory rather than spooled to
// disk, and memoryKept bounds those held until the end of an inspection.
const (
	memoryBlob = 1 << 20
	memoryKept = 32 << 20
)

// Whiteout names from the OCI image layer spec.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// inspection is the state of one Inspect call. It is used by one goroutine.
type inspection struct {
	ctx  context.Context
	opts Options
	dir  string // spool directory, removed by Inspect
	tree *tree
	fs   *treeFS
	exts []extractorSpec

	layers       []digest.Digest
	files        []inventory.File
	entries      int
	names        int64 // bytes of entry names, all layers
	tarBytes     int64 // uncompressed tar bytes, all layers
	contentBytes int64 // file content read, which sparse entries expand
	spooled      int64 // bytes kept for deferred extractors
	memKept      int64 // the part of spooled held in memory
	spools       int   // names spool files
	failure      error // first limit tripped inside a reader
}

func newInspection(ctx context.Context, opts Options, dir string, layers []Layer) *inspection {
	t := newTree()
	in := &inspection{ctx: ctx, opts: opts, dir: dir, tree: t, fs: &treeFS{t: t}, exts: extractors(opts)}
	for _, l := range layers {
		in.layers = append(in.layers, l.Digest)
	}
	return in
}

// fail remembers the first limit tripped, which readers may wrap or lose.
func (in *inspection) fail(err error) error {
	if in.failure == nil {
		in.failure = err
	}
	return in.failure
}

// cleanPath turns an entry name into a tree path, or says why it cannot
// be one. Leading "./" is normal ("tar -C dir ."); "/" and ".." are not,
// and a runtime that honoured them would write outside its root.
func cleanPath(name string) (string, string) {
	if strings.HasPrefix(name, "/") {
		return "", "absolute path"
	}
	if strings.ContainsRune(name, 0) {
		return "", "path contains a NUL byte"
	}
	var parts []string
	for _, c := range split(name) {
		switch c {
		case ".":
		case "..":
			return "", "path contains .."
		default:
			if len(c) > maxComponent {
				return "", "path component longer than 255 bytes"
			}
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "/"), ""
}

// entry applies one tar entry of layer idx to the tree.
func (in *inspection) entry(idx int, d digest.Digest, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	in.entries++
	if in.entries > in.opts.MaxEntries {
		return &Error{Layer: d, Reason: fmt.Sprintf("more than %d entries", in.opts.MaxEntries)}
	}
	if len(hdr.Name) > in.opts.MaxPathBytes || len(hdr.Linkname) > in.opts.MaxPathBytes {
		return &Error{Layer: d, Reason: fmt.Sprintf("entry name longer than %d bytes", in.opts.MaxPathBytes)}
	}
	in.names += int64(len(hdr.Name) + len(hdr.Linkname))
	if in.names > in.opts.MaxNameBytes {
		return &Error{Layer: d, Reason: fmt.Sprintf("entry names exceed %d bytes", in.opts.MaxNameBytes)}
	}
	p, reason := cleanPath(hdr.Name)
	if reason != "" {
		return &Error{Layer: d, Path: hdr.Name, Reason: reason}
	}
	if p == "" {
		return nil // the root itself
	}

	err := in.apply(idx, p, hdr, r)
	switch err {
	case nil:
		return nil
	case errLoop:
		return &Error{Layer: d, Path: p, Reason: "symlink loop in parent directory"}
	case errNotDir:
		return &Error{Layer: d, Path: p, Reason: "parent is not a directory"}
	}
	if se, ok := err.(*Error); ok {
		se.Layer, se.Path = d, p
		return se
	}
	return err
}

func (in *inspection) apply(idx int, p string, hdr *tar.Header, r io.Reader) error {
	dir, base := path.Split(p)
	switch {
	case base == whiteoutOpaque:
		return in.tree.opaque(dir, idx)
	case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
		return nil // other AUFS metadata, meaningless here
	case strings.HasPrefix(base, whiteoutPrefix):
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return &Error{Reason: "invalid whiteout name"}
		}
		return in.tree.whiteout(dir+name, idx)
	}

	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		return in.tree.put(p, &node{kind: kindDir, layer: idx, mode: mode})
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return in.file(idx, p, hdr, r)
	case tar.TypeSymlink:
		return in.tree.put(p, &node{kind: kindSymlink, layer: idx, mode: mode, target: hdr.Linkname})
	case tar.TypeLink:
		return in.hardlink(idx, p, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return in.tree.put(p, &node{kind: kindOther, layer: idx, mode: mode})
	}
	return &Error{Reason: fmt.Sprintf("unsupported tar entry type %q", hdr.Typeflag)}
}

// file reads a regular file: its digest always, its content too when an
// extractor wants it.
func (in *inspection) file(idx int, p string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size < 0 || hdr.Size > in.opts.MaxFileBytes {
		return &Error{Reason: fmt.Sprintf("file larger than %d bytes", in.opts.MaxFileBytes)}
	}
	n := &node{kind: kindFile, layer: idx, mode: hdr.FileInfo().Mode(), size: hdr.Size}
	w, err := in.wanted(p, info{name: path.Base(p), n: n})
	if err != nil {
		return err
	}
	if in.wantsBinary(w) {
		// A read error here comes back from the copy below.
		head := make([]byte, 4)
		k, _ := io.ReadFull(r, head)
		in.dropNonBinary(&w, head[:k])
		r = io.MultiReader(bytes.NewReader(head[:k]), r)
	}

	var sp *spool
	if w.any() {
		if in.spooled+hdr.Size > in.opts.MaxSpoolBytes {
			return &Error{Reason: fmt.Sprintf("files for extractors exceed %d bytes", in.opts.MaxSpoolBytes)}
		}
		if sp, err = in.newSpool(hdr.Size, w); err != nil {
			return err
		}
	}
	sum, err := in.copy(sp, r)
	if err != nil {
		sp.discard()
		return err
	}
	if hdr.Size > 0 {
		if len(in.files) >= in.opts.MaxFiles {
			sp.discard()
			return &Error{Reason: fmt.Sprintf("more than %d regular files", in.opts.MaxFiles)}
		}
		in.files = append(in.files, inventory.File{Layer: in.layers[idx], Path: p, Digest: sum})
	}

	if sp != nil {
		b := sp.blob()
		n.extra = &extra{}
		if len(w.eager) > 0 {
			if n.extra.pkgs, err = in.extractNow(w.eager, p, n, b); err != nil {
				sp.discard()
				return err
			}
		}
		if w.keep() {
			n.extra.blob, n.extra.deferred = b, w.deferred
			in.spooled += hdr.Size
		} else {
			sp.discard()
		}
	}
	return in.tree.put(p, n)
}

// copy reads a file's content into its digest and, if sp is set, into the
// spool, counting it against the image limit.
func (in *inspection) copy(sp *spool, r io.Reader) (digest.Digest, error) {
	h := sha256.New()
	var w io.Writer = h
	if sp != nil {
		w = io.MultiWriter(h, sp)
	}
	left := in.opts.MaxImageBytes - in.contentBytes
	n, err := io.Copy(w, io.LimitReader(r, left+1))
	in.contentBytes += n
	if err != nil {
		return "", err
	}
	if n > left {
		return "", &Error{Reason: fmt.Sprintf("file content expands past %d bytes", in.opts.MaxImageBytes)}
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

// hardlink makes p share the file at target, which an earlier entry must
// have written: a link to nothing or out of the tree is a broken layer.
func (in *inspection) hardlink(idx int, p, target string) error {
	t, reason := cleanPath(target)
	if reason != "" || t == "" {
		return &Error{Reason: "hard link target leaves the image root"}
	}
	tn := in.tree.lookup(t)
	if tn == nil || tn.kind != kindFile {
		return &Error{Reason: fmt.Sprintf("hard link to missing file %q", t)}
	}
	n := &node{kind: kindFile, layer: idx, mode: tn.mode, size: tn.size}

	// TODO: a link wanted by an extractor whose target was not kept (its
	// name wanted nothing) goes unextracted, because the content has
	// already streamed past; package databases and binaries are rarely
	// hard linked under another name.
	w, err := in.wanted(p, info{name: path.Base(p), n: n})
	if err != nil {
		return err
	}
	if tn.extra != nil {
		x := &extra{}
		if len(w.eager) > 0 {
			x.pkgs = tn.extra.pkgs
		}
		if b := tn.kept(); w.keep() && b != nil && (b.file != "" || !w.disk) {
			x.blob, x.deferred = b, w.deferred
		}
		n.extra = x
	}
	return in.tree.put(p, n)
}

// spool collects one wanted file's content.
type spool struct {
	mem  []byte
	f    *os.File
	name string
}

// newSpool keeps small files in memory, up to memoryKept of them for the
// deferred extractors, and the rest on disk.
func (in *inspection) newSpool(size int64, w wants) (*spool, error) {
	if size <= memoryBlob && !w.disk && (!w.keep() || in.memKept+size <= memoryKept) {
		if w.keep() {
			in.memKept += size
		}
		return &spool{mem: make([]byte, 0, size)}, nil
	}
	in.spools++
	name := filepath.Join(in.dir, strconv.Itoa(in.spools))
	f, err := os.Create(name)
	if err != nil {
		return nil, &localError{fmt.Errorf("create spool file: %w", err)}
	}
	return &spool{f: f, name: name}, nil
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f != nil {
		n, err := s.f.Write(p)
		if err != nil {
			err = &localError{fmt.Errorf("write spool file: %w", err)}
		}
		return n, err
	}
	s.mem = append(s.mem, p...)
	return len(p), nil
}

// blob closes the spool for writing and returns its content.
func (s *spool) blob() *blob {
	if s.f == nil {
		return &blob{data: s.mem}
	}
	s.f.Close()
	return &blob{file: s.name}
}

// discard drops the content; a nil spool is fine.
func (s *spool) discard() {
	if s == nil || s.f == nil {
		return
	}
	s.f.Close()
	os.Remove(s.name)
}

// fileAPI is what an extractor's FileRequired sees of a tar entry.
type fileAPI struct {
	path string
	fi   fs.FileInfo
}

func (f fileAPI) Path() string               { return f.path }
func (f fileAPI) Stat() (fs.FileInfo, error) { return f.fi, nil }

var _ filesystem.FileAPI = fileAPI{}
