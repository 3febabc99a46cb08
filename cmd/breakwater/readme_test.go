package main

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeFolderMap keeps the README's folder map true: every folder it
// names exists, and every committed folder of Go files directly under cmd/,
// internal/ and test/ is named. Work not yet committed is not asked for, so
// a package being written does not fail everyone's tests.
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

	out, err := exec.Command("git", "-C", root, "ls-files", "--", "cmd", "internal", "test").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		dir := path.Dir(f)
		if !strings.HasSuffix(f, ".go") || strings.Count(dir, "/") != 1 || named[dir] {
			continue
		}
		t.Errorf("README.md's folder map lacks %s", dir)
		named[dir] = true // once per folder
	}
}
