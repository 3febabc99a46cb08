//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/test/harness"
)

// cliTimeout bounds one breakwater command (a scan of the Debian image
// through a cold cache included).
const cliTimeout = 5 * time.Minute

// offlineVulnDB is the vulndb section every firewall test uses: no feeds,
// so breakwater never reaches past 127.0.0.1; the tests import their
// records by hand.
const offlineVulnDB = `vulndb:
  feeds: []
  load_at_start: false
  refresh: 0s
`

// vulnTestdata is the real public records the vulndb package tests with
// (see its README for sources and licences), shared rather than copied.
func vulnTestdata(t *testing.T, parts ...string) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatalf("find module root: %v", err)
	}
	p := filepath.Join(append([]string{root, "internal", "vulndb", "testdata"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data: %v", err)
	}
	return p
}

// fwEnv is one firewall setup: an upstream with credentials, a data
// directory and a configuration file shared by serve and the CLI.
type fwEnv struct {
	up     *harness.Upstream
	data   string
	config string
	// counter, if set, stands between breakwater and the upstream.
	counter *harness.CountingProxy
	// localFeeds says the configuration names feeds, all local paths, so
	// serve may load them.
	localFeeds bool
}

// newFWEnv starts an upstream and writes a configuration of offlineVulnDB
// plus extra (more YAML: policies, firewall).
func newFWEnv(t *testing.T, extra string) *fwEnv {
	t.Helper()
	e := &fwEnv{
		up:   harness.StartUpstream(t, harness.UpstreamOptions{Auth: harness.AuthBasic}),
		data: t.TempDir(),
	}
	e.config = filepath.Join(t.TempDir(), "breakwater.yaml")
	if err := os.WriteFile(e.config, []byte(offlineVulnDB+extra), 0o644); err != nil {
		t.Fatalf("write config: %v", err)
	}
	return e
}

// env is the environment of every breakwater process of e: the upstream
// and its credentials, which only breakwater holds.
func (e *fwEnv) env() []string {
	target := e.up.URL
	if e.counter != nil {
		target = e.counter.URL
	}
	return []string{
		"BREAKWATER_UPSTREAM=" + target,
		"BREAKWATER_UPSTREAM_USERNAME=" + e.up.Username,
		"BREAKWATER_UPSTREAM_PASSWORD=" + e.up.Password,
	}
}

// cli runs a breakwater command on e's data and configuration and returns
// its stdout and the error (with stderr) if it exits non-zero.
func (e *fwEnv) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--data", e.data, "--config", e.config)
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, harness.Binary(t), args...)
	cmd.Env = append(os.Environ(), e.env()...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s", cliTimeout)
	}
	t.Logf("breakwater %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("breakwater %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// mustCLI is cli failing the test on a non-zero exit.
func (e *fwEnv) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.cli(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// importRecords imports path (a file or folder tree) into e's database.
func (e *fwEnv) importRecords(t *testing.T, path string) {
	t.Helper()
	e.mustCLI(t, "vulndb", "import", path)
}

// serve starts breakwater serve on e's data and configuration with every
// repository in mode ("audit" or "quarantine"), or, with mode "", in the
// modes the configuration gives.
func (e *fwEnv) serve(t *testing.T, mode string) *harness.Breakwater {
	t.Helper()
	bw := harness.StartBreakwater(t, harness.BreakwaterOptions{
		DataDir:            e.data,
		Config:             e.config,
		Env:                e.env(),
		Firewall:           mode,
		ConfiguredFirewall: mode == "",
	})
	// Runs before the harness stops the process (cleanups are LIFO).
	t.Cleanup(func() {
		if e.localFeeds {
			return
		}
		log := bw.Process().Log()
		for _, m := range []string{"loading vulnerability data", "refreshing vulnerability data"} {
			if strings.Contains(log, m) {
				t.Errorf("breakwater logged %q: a test server must fetch no feeds", m)
			}
		}
	})
	return bw
}

// scanResult is the part of `breakwater scan --format json` the tests read.
type scanResult struct {
	Repo         string `json:"repository"`
	Digest       string `json:"digest"`
	Result       string `json:"result"`
	Served       bool   `json:"served"`
	QuarantineID string `json:"quarantine_id"`
	Evidence     struct {
		Verdict struct {
			Result  string `json:"result"`
			Matches []struct {
				Policy   string    `json:"policy"`
				Action   string    `json:"action"`
				Findings []finding `json:"findings"`
			} `json:"matches"`
		} `json:"verdict"`
		Findings   []finding `json:"findings"`
		Components int       `json:"components"`
	} `json:"evidence"`
}

type finding struct {
	ID           string  `json:"id"`
	FixedVersion string  `json:"fixed_version"`
	Status       string  `json:"status"`
	Malware      bool    `json:"malware"`
	Score        float64 `json:"score"`
	Scored       bool    `json:"scored"`
	Severity     string  `json:"severity"`
	Vector       string  `json:"vector"`
	Component    struct {
		Ecosystem  string `json:"ecosystem"`
		Name       string `json:"name"`
		Version    string `json:"version"`
		SourceName string `json:"source_name"`
		Path       string `json:"path"`
	} `json:"component"`
}

// scan runs `breakwater scan IMAGE --format json`; withheld images exit
// non-zero, so the error is returned next to the parsed result.
func (e *fwEnv) scan(t *testing.T, image string, extra ...string) (scanResult, error) {
	t.Helper()
	out, err := e.cli(t, append([]string{"scan", image, "--format", "json"}, extra...)...)
	var r scanResult
	if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
		t.Fatalf("parse scan output: %v (command error: %v)\n%s", jerr, err, out)
	}
	return r, err
}

// policies lists the policies that fired in r.
func (r scanResult) policies() []string {
	var ps []string
	for _, m := range r.Evidence.Verdict.Matches {
		ps = append(ps, m.Policy+":"+m.Action)
	}
	slices.Sort(ps)
	return ps
}

// quarantineRecord is the part of `quarantine list --format json` read.
type quarantineRecord struct {
	ID       string `json:"id"`
	Repo     string `json:"repository"`
	Tag      string `json:"tag"`
	Digest   string `json:"digest"`
	Platform string `json:"platform"`
	// RequestedBy is who asked first: a client address, or cli:USER.
	RequestedBy string   `json:"requested_by"`
	Policies    []string `json:"policies"`
	Released    bool     `json:"released"`
	// Result is the image's verdict now, which data or policy changes
	// may have moved since the quarantine.
	Result string `json:"result"`
}

func (e *fwEnv) quarantineList(t *testing.T) []quarantineRecord {
	t.Helper()
	out := e.mustCLI(t, "quarantine", "list", "--format", "json")
	var recs []quarantineRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("parse quarantine list: %v\n%s", err, out)
	}
	return recs
}

// file is one regular file of a generated layer.
type file struct {
	Name string
	Mode int64
	Body []byte
}

// fileLayer is a gzip Docker layer holding files, with their parent
// directories, as an image build would write them.
func fileLayer(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.Name); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("write tar: %v", err)
			}
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: f.Name, Mode: f.Mode, Size: int64(len(f.Body)), ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write tar: %v", err)
		}
		if _, err := tw.Write(f.Body); err != nil {
			t.Fatalf("write tar: %v", err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("write tar: %v", err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.DockerLayer))
	if err != nil {
		t.Fatalf("make layer: %v", err)
	}
	return l
}

// npmPackage is a package.json of an npm package installed globally.
func npmPackage(name, version string) file {
	return file{
		Name: "usr/lib/node_modules/" + name + "/package.json",
		Mode: 0o644,
		Body: []byte(fmt.Sprintf(`{"name": %q, "version": %q, "main": "index.js"}`+"\n", name, version)),
	}
}
