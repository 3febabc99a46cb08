package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeFolderMap keeps the README's folder map true: every folder it
// names exists, and every folder of Go packages under cmd/, internal/ and
// test/ is named.
func TestReadmeFolderMap(t *testing.T) {
	const root = "../.."
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		named[m[1]] = true
	}
	if len(named) == 0 {
		t.Fatal("README.md has no folder map rows")
	}

	for dir := range named {
		if fi, err := os.Stat(filepath.Join(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("README.md maps %s, which is not a folder", dir)
		}
	}
	for _, pattern := range []string{"cmd/*/*.go", "internal/*/*.go", "test/*/*.go"} {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			dir, _ := filepath.Rel(root, filepath.Dir(f))
			if dir = filepath.ToSlash(dir); !named[dir] && !strings.HasSuffix(dir, "testdata") {
				t.Errorf("README.md's folder map lacks %s", dir)
				named[dir] = true // once per folder
			}
		}
	}
}
