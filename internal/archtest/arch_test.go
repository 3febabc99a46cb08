package archtest

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "breakwater"

// deps returns every package pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestBoundaries keeps the package map honest: a part that starts to know
// about another it should not know fails here, not in review.
func TestBoundaries(t *testing.T) {
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{"internal/oci", []string{module + "/"}},
		{"internal/when", []string{module + "/"}},
		{"internal/registry", []string{"internal/store/fs", "internal/store/sqlite", "internal/upstream"}},
		{"internal/cache", []string{"internal/registry", "internal/store/fs", "internal/store/sqlite", "internal/config"}},
		{"internal/upstream", []string{"internal/cache", "internal/store", "internal/registry", "internal/config"}},
		{"internal/store", []string{"internal/cache", "internal/upstream", "internal/registry", "net/http"}},
		{"internal/scan", []string{"internal/vulndb", "internal/policy", "internal/firewall", "internal/cache", "internal/registry"}},
		{"internal/vulndb", []string{"internal/scan", "internal/policy", "internal/firewall", "internal/registry"}},
		{"internal/firewall", []string{"internal/registry", "internal/store/fs", "internal/store/sqlite", "internal/upstream", "internal/config", "internal/server"}},
		{"internal/config", []string{"internal/cache", "internal/upstream", "internal/registry", "internal/store"}},
		{"internal/policy", []string{"net/http", "internal/store", "database/sql"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, d := range deps(t, tt.pkg) {
				if d == module+"/"+tt.pkg {
					continue
				}
				for _, f := range tt.forbidden {
					if strings.HasPrefix(d, f) || strings.HasPrefix(d, module+"/"+f) {
						t.Errorf("%s imports %s, which it must not know about", tt.pkg, d)
					}
				}
			}
		})
	}
}

// TestPackageDocs checks that every package explains itself.
func TestPackageDocs(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		pkgs, err := parser.ParseDir(token.NewFileSet(), dir, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", dir, err)
		}
		documented := false
		for name, p := range pkgs {
			if strings.HasSuffix(name, "_test") {
				continue
			}
			for _, f := range p.Files {
				if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
					documented = true
				}
			}
		}
		if !documented {
			t.Errorf("package in %s has no doc comment", filepath.Base(dir))
		}
	}
}
