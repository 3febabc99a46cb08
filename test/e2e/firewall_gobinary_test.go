//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/test/harness"
)

// goBinaryConfig fails images holding one Go vulnerability by id, so the
// finding decides the verdict.
const goBinaryConfig = `policies:
  - name: x-text-1059
    conditions: {ids: [GO-2022-1059]}
    action: fail
`

// buildGoBinary builds a static program that uses golang.org/x/text
// v0.3.7 (from the module cache, or the Go module proxy, which serves it)
// and returns its bytes.
func buildGoBinary(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/textdemo\n\ngo 1.22\n\nrequire golang.org/x/text v0.3.7\n")
	// The sums let the go command check the download without asking the
	// checksum database: only the module proxy (or the module cache) is used.
	write("go.sum", "golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\n"+
		"golang.org/x/text v0.3.7/go.mod h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR6JIITiCfzQ=\n")
	write("main.go", `package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English) }
`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "textdemo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFirewallGoBinary finds the Go vulnerabilities of a module version
// compiled into a binary, from the binary's build info: golang.org/x/text
// v0.3.7 is affected by GO-2022-1059 (fixed in 0.3.8) and GO-2026-5970
// (fixed in 0.39.0), not by GO-2021-0113 (fixed in 0.3.7 itself) or
// GO-2020-0015 (fixed in 0.3.3). A policy on one of the ids withholds it.
func TestFirewallGoBinary(t *testing.T) {
	e := newFWEnv(t, goBinaryConfig)
	img := harness.Assemble(t, harness.Docker, harness.LinuxAMD64, []string{"/usr/local/bin/textdemo"},
		fileLayer(t, file{Name: "usr/local/bin/textdemo", Mode: 0o755, Body: buildGoBinary(t)}))
	e.up.Push(t, "acme/textdemo", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "go"))

	r, err := e.scan(t, "acme/textdemo:1", "--firewall", "quarantine")
	if err == nil {
		t.Errorf("scan exited 0, want non-zero for a withheld image")
	}
	if r.Served || r.Result != "quarantine" || r.QuarantineID == "" {
		t.Errorf("result %q, served %v, quarantine id %q; want quarantine, withheld, an id", r.Result, r.Served, r.QuarantineID)
	}
	if got, want := r.policies(), []string{"x-text-1059:fail"}; !slices.Equal(got, want) {
		t.Errorf("policies fired = %v, want %v", got, want)
	}

	type goFinding struct{ Version, Fixed, Path string }
	got := map[string]goFinding{}
	for _, f := range r.Evidence.Findings {
		if f.Component.Name != "golang.org/x/text" {
			continue // the standard library of today's toolchain may have findings too
		}
		if f.Component.Ecosystem != "Go" {
			t.Errorf("finding %s has ecosystem %q, want Go", f.ID, f.Component.Ecosystem)
		}
		got[f.ID] = goFinding{f.Component.Version, f.FixedVersion, f.Component.Path}
	}
	want := map[string]goFinding{
		"GO-2022-1059": {"0.3.7", "0.3.8", "usr/local/bin/textdemo"},
		"GO-2026-5970": {"0.3.7", "0.39.0", "usr/local/bin/textdemo"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("golang.org/x/text findings (-want +got):\n%s", diff)
	}
}
