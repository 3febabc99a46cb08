package scan

import (
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor"
)

// maxHops bounds the symlinks followed while resolving one path, as
// Linux's MAXSYMLINKS does; a loop ends here instead of spinning.
const maxHops = 40

var (
	errLoop   = errors.New("too many levels of symbolic links")
	errNotDir = errors.New("not a directory")
)

type nodeKind uint8

const (
	kindDir nodeKind = iota
	kindFile
	kindSymlink
	kindOther // devices and fifos: present, never read
)

// node is one entry of the merged tree, kept small because an image may
// have a million of them; what only wanted files need sits in extra.
type node struct {
	layer    int // index of the layer that last wrote the entry
	size     int64
	target   string // symlink target, as written
	children map[string]*node
	extra    *extra
	mode     fs.FileMode
	kind     nodeKind
}

// extra is what a file some extractor wanted carries.
type extra struct {
	blob     *blob                // content kept for deferred extractors
	deferred []int                // deferred extractors that want it
	pkgs     []*extractor.Package // what eager extractors found
}

// kept returns the node's kept content, or nil.
func (n *node) kept() *blob {
	if n.extra == nil {
		return nil
	}
	return n.extra.blob
}

// tree is the merged filesystem of the layers read so far, rooted at the
// image root. Paths are slash-separated, relative and clean.
type tree struct {
	root *node
}

func newTree() *tree {
	return &tree{root: &node{kind: kindDir, mode: fs.ModeDir | 0o755, children: map[string]*node{}}}
}

// split cuts a path into its components.
func split(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// resolve finds the node at parts, following symlinks inside the tree:
// an absolute target starts again at the image root and ".." stops at the
// root, as in a chroot, so no path leads out. followLast says whether a
// symlink in the last component is followed. With create, missing
// directories are made (written by layer) instead of failing.
func (t *tree) resolve(parts []string, followLast, create bool, layer int) (*node, error) {
	stack := []*node{t.root}
	queue := slices.Clone(parts)
	hops := 0
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}

		cur := stack[len(stack)-1]
		if cur.kind != kindDir {
			return nil, errNotDir
		}
		child := cur.children[name]
		if child == nil {
			if !create {
				return nil, fs.ErrNotExist
			}
			child = &node{kind: kindDir, layer: layer, mode: fs.ModeDir | 0o755, children: map[string]*node{}}
			cur.children[name] = child
		}

		if child.kind == kindSymlink && (len(queue) > 0 || followLast) {
			hops++
			if hops > maxHops {
				return nil, errLoop
			}
			if strings.HasPrefix(child.target, "/") {
				stack = stack[:1]
			}
			queue = append(split(child.target), queue...)
			continue
		}
		stack = append(stack, child)
	}
	return stack[len(stack)-1], nil
}

// parent resolves the directory that holds p, making missing directories
// as a runtime unpacking the layer would, and returns it with p's last
// component.
func (t *tree) parent(p string, layer int) (*node, string, error) {
	parts := split(p)
	dir, err := t.resolve(parts[:len(parts)-1], true, true, layer)
	if err != nil {
		return nil, "", err
	}
	if dir.kind != kindDir {
		return nil, "", errNotDir
	}
	return dir, parts[len(parts)-1], nil
}

// put writes n at p, replacing what was there; a directory written over a
// directory keeps its children, as unpacking onto a filesystem does.
func (t *tree) put(p string, n *node) error {
	dir, name, err := t.parent(p, n.layer)
	if err != nil {
		return err
	}
	old := dir.children[name]
	if n.kind == kindDir && old != nil && old.kind == kindDir {
		old.layer, old.mode = n.layer, n.mode
		return nil
	}
	if n.kind == kindDir && n.children == nil {
		n.children = map[string]*node{}
	}
	dir.children[name] = n
	return nil
}

// lookup returns the node at p without following a symlink in its last
// component, or nil.
func (t *tree) lookup(p string) *node {
	parts := split(p)
	dir, err := t.resolve(parts[:len(parts)-1], true, false, 0)
	if err != nil || dir.kind != kindDir {
		return nil
	}
	return dir.children[parts[len(parts)-1]]
}

// whiteout hides p and what lies under it, as far as lower layers wrote
// them: per the OCI layer spec a whiteout never hides entries of its own
// layer.
func (t *tree) whiteout(p string, layer int) error {
	dir, name, err := t.parent(p, layer)
	if err != nil {
		return err
	}
	if n := dir.children[name]; n != nil && hideLower(n, layer) {
		delete(dir.children, name)
	}
	return nil
}

// opaque hides everything lower layers put in the directory p.
func (t *tree) opaque(p string, layer int) error {
	dir, err := t.resolve(split(p), true, true, layer)
	if err != nil {
		return err
	}
	if dir.kind != kindDir {
		return errNotDir
	}
	for name, n := range dir.children {
		if hideLower(n, layer) {
			delete(dir.children, name)
		}
	}
	return nil
}

// hideLower removes from n what layers below layer wrote and reports
// whether n itself goes. A lower directory that still holds entries of this
// layer stays, as if this layer had made it.
func hideLower(n *node, layer int) bool {
	for name, c := range n.children {
		if hideLower(c, layer) {
			delete(n.children, name)
		}
	}
	switch {
	case n.layer >= layer:
		return false
	case len(n.children) > 0:
		n.layer = layer
		return false
	}
	return true
}

// walk calls fn for every node in path order, without following symlinks.
func (t *tree) walk(fn func(p string, n *node) error) error {
	return walkNode("", t.root, fn)
}

func walkNode(p string, n *node, fn func(string, *node) error) error {
	for _, name := range slices.Sorted(maps.Keys(n.children)) {
		c := n.children[name]
		cp := name
		if p != "" {
			cp = p + "/" + name
		}
		if err := fn(cp, c); err != nil {
			return err
		}
		if c.kind == kindDir {
			if err := walkNode(cp, c, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
