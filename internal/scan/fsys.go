package scan

import (
	"bytes"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"time"
)

// blob is kept file content: in memory when small, else in a spool file
// named by a counter, never by the path in the layer.
type blob struct {
	data []byte
	file string
}

func (b *blob) open() (io.ReadCloser, error) {
	if b.file == "" {
		return nopCloser{bytes.NewReader(b.data)}, nil
	}
	return os.Open(b.file)
}

// nopCloser keeps the io.ReaderAt of a bytes.Reader visible to extractors
// that look for it, which io.NopCloser would hide.
type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// info describes a node as fs.FileInfo and fs.DirEntry.
type info struct {
	name string
	n    *node
}

func (i info) Name() string               { return i.name }
func (i info) Size() int64                { return i.n.size }
func (i info) Mode() fs.FileMode          { return i.n.mode }
func (i info) ModTime() time.Time         { return time.Time{} }
func (i info) IsDir() bool                { return i.n.kind == kindDir }
func (i info) Sys() any                   { return nil }
func (i info) Type() fs.FileMode          { return i.n.mode.Type() }
func (i info) Info() (fs.FileInfo, error) { return i, nil }

// treeFS is the merged tree as the fs.FS osv-scalibr's extractors read.
// Files whose content was not kept open as not existing. A symlink loop is
// remembered, because extractors tend to log such errors and go on, while
// the inspection must fail.
type treeFS struct {
	t    *tree
	loop string // first path that hit a symlink loop
}

func (f *treeFS) node(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.t.resolve(split(name), true, false, 0)
	if err == errLoop && f.loop == "" {
		f.loop = name
	}
	if err == errNotDir {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return n, nil
}

func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.node("open", name)
	if err != nil {
		return nil, err
	}
	fi := info{name: path.Base(name), n: n}
	switch {
	case n.kind == kindDir:
		return &dirFile{fi: fi}, nil
	case n.kind == kindFile && n.kept() != nil:
		rc, err := n.kept().open()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &file{ReadCloser: rc, fi: fi}, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.node("stat", name)
	if err != nil {
		return nil, err
	}
	return info{name: path.Base(name), n: n}, nil
}

func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.node("readdir", name)
	if err != nil {
		return nil, err
	}
	if n.kind != kindDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	var out []fs.DirEntry
	for _, c := range slices.Sorted(maps.Keys(n.children)) {
		out = append(out, info{name: c, n: n.children[c]})
	}
	return out, nil
}

// file is an open regular file; it passes io.ReaderAt through when the
// content has it, which the Go binary and archive extractors use.
type file struct {
	io.ReadCloser
	fi info
}

func (f *file) Stat() (fs.FileInfo, error) { return f.fi, nil }

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	ra, ok := f.ReadCloser.(io.ReaderAt)
	if !ok {
		return 0, fs.ErrInvalid
	}
	return ra.ReadAt(p, off)
}

// dirFile is an open directory; its entries come from treeFS.ReadDir.
type dirFile struct{ fi info }

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dirFile) Read([]byte) (int, error)   { return 0, fs.ErrInvalid }
func (d *dirFile) Close() error               { return nil }
