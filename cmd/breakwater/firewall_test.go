package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"breakwater/internal/registry"
)

// fwFixture is an upstream holding three images and a data directory whose
// vulnerability database knows about two of them:
//
//	library/evil:1   npm evil-pkg 1.0.0, a MAL- record: quarantined
//	library/vuln:1   npm left-pad 1.0.0, fixed in 1.3.0: audited (warn)
//	library/clean:1  npm left-pad 1.3.0: allowed
type fwFixture struct {
	upstream string // URL
	data     string
	environ  []string
	digests  map[string]string // image to manifest digest
}

func newFWFixture(t *testing.T) *fwFixture {
	t.Helper()
	up := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(up.Close)
	fx := &fwFixture{upstream: up.URL, data: t.TempDir(), digests: map[string]string{}}
	images := map[string]string{
		"evil":  `{"name": "evil-pkg", "version": "1.0.0"}`,
		"vuln":  `{"name": "left-pad", "version": "1.0.0"}`,
		"clean": `{"name": "left-pad", "version": "1.3.0"}`,
	}
	for repo, pkg := range images {
		var pkgName struct{ Name string }
		json.Unmarshal([]byte(pkg), &pkgName)
		img := npmImage(t, "app/node_modules/"+pkgName.Name+"/package.json", pkg)
		ref, err := name.ParseReference(strings.TrimPrefix(up.URL, "http://")+"/library/"+repo+":1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("seed upstream: %v", err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		fx.digests[repo] = d.String()
	}

	// library/multi:1 is an index: clean for amd64, evil for arm64.
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: npmImage(t, "app/node_modules/left-pad/package.json", images["clean"]), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: npmImage(t, "app/node_modules/evil-pkg/package.json", images["evil"]), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	ref, err := name.ParseReference(strings.TrimPrefix(up.URL, "http://")+"/library/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("seed upstream: %v", err)
	}

	// No feed is fetched: the data comes from an import, as in a closed
	// network.
	fx.environ = []string{
		"BREAKWATER_UPSTREAM=" + up.URL,
		"BREAKWATER_VULNDB_REFRESH=0s",
		"BREAKWATER_VULNDB_LOAD_AT_START=false",
		"BREAKWATER_FIREWALL_MODE=quarantine",
	}
	if _, _, err := run(t, nil, "vulndb", "import", "--data", fx.data, osvFeed(t)); err != nil {
		t.Fatalf("import: %v", err)
	}
	return fx
}

// run runs a command line against the fixture's data directory.
func (fx *fwFixture) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := run(t, fx.environ, append(args, "--data", fx.data)...)
	return out, err
}

// npmImage builds a one-layer image holding one file.
func npmImage(t *testing.T, path, body string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestScan(t *testing.T) {
	fx := newFWFixture(t)
	tests := []struct {
		name     string
		args     []string
		withheld bool
		want     []string
	}{
		{"malware quarantined", []string{"scan", "evil:1"}, true, []string{"verdict:     quarantine (malware)", "MAL-2024-0001", "evil-pkg", "1.0.0", "malware", "withheld:    quarantine id"}},
		{"fixable audited", []string{"scan", "library/vuln:1"}, false, []string{"verdict:     audit (fixable)", "GHSA-test-0001", "left-pad", "1.3.0", "unscored"}},
		{"clean allowed", []string{"scan", "docker.io/library/clean:1"}, false, []string{"verdict:     allow", "findings:    0"}},
		{"by digest", []string{"scan", "clean@" + fx.digests["clean"]}, false, []string{"digest:      " + fx.digests["clean"]}},
		{"index, default platform", []string{"scan", "multi:1"}, false, []string{"verdict:     allow"}},
		{"index, other platform", []string{"scan", "multi:1", "--platform", "linux/arm64"}, true, []string{"verdict:     quarantine (malware)"}},
		{"index, platform with variant", []string{"scan", "multi:1", "--platform", "linux/arm64/v8"}, true, []string{"MAL-2024-0001"}},
		{"json", []string{"scan", "evil:1", "--format", "json"}, true, []string{`"result": "quarantine"`, `"served": false`, `"quarantine_id": "`, `"id": "MAL-2024-0001"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := fx.run(t, tt.args...)
			t.Logf("breakwater %s:\n%s", strings.Join(tt.args, " "), out)
			if got := errors.Is(err, errWithheld); got != tt.withheld || (err != nil && !got) {
				t.Errorf("got error %v, want withheld=%v", err, tt.withheld)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(tt.name, "json") && !json.Valid([]byte(out)) {
				t.Errorf("output is not JSON:\n%s", out)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"scan", "missing:1"}, "fetch manifest of missing:1"},
			{[]string{"scan", "Bad/Name:1"}, `image "Bad/Name:1"`},
			{[]string{"scan", "evil:1", "--firewall", "off"}, "the firewall is off"},
			{[]string{"scan", "multi:1", "--platform", "linux/s390x"}, "has no manifest for platform linux/s390x"},
		} {
			if _, err := fx.run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v: got error %v, want one containing %q", tc.args, err, tc.want)
			}
		}
	})

	// Without vulnerability data nothing is judged, in either mode.
	t.Run("no data", func(t *testing.T) {
		empty := *fx
		empty.data = t.TempDir()
		for _, mode := range []string{"quarantine", "audit"} {
			_, err := empty.run(t, "scan", "evil:1", "--firewall", mode)
			if err == nil || errors.Is(err, errWithheld) || !strings.Contains(err.Error(), "vulnerability data not loaded") {
				t.Errorf("%s: got error %v, want one saying the vulnerability data is not loaded", mode, err)
			}
		}
	})
}

func TestQuarantineCommands(t *testing.T) {
	fx := newFWFixture(t)
	evil := fx.digests["evil"]
	if _, err := fx.run(t, "scan", "evil:1"); !errors.Is(err, errWithheld) {
		t.Fatalf("scan evil:1: got %v, want it withheld", err)
	}

	// list gives the id the other commands take.
	out, err := fx.run(t, "quarantine", "list", "--format", "json")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var recs []struct {
		ID       string   `json:"id"`
		Repo     string   `json:"repository"`
		Digest   string   `json:"digest"`
		Policies []string `json:"policies"`
	}
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("list --format json: got %d records (%v), want 1:\n%s", len(recs), err, out)
	}
	id := recs[0].ID
	if recs[0].Repo != "docker.io/library/evil" || recs[0].Digest != evil || strings.Join(recs[0].Policies, ",") != "malware" {
		t.Errorf("got record %+v, want docker.io/library/evil@%s failing malware", recs[0], evil)
	}

	steps := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
	}{
		{"list table", []string{"quarantine", "list"}, "", []string{id, "docker.io/library/evil", "malware", "false"}},
		{"list other repo", []string{"quarantine", "list", "--repo", "docker.io/library/clean"}, "", []string{"no quarantine records"}},
		{"list by digest", []string{"quarantine", "list", "--digest", evil, "--limit", "1"}, "", []string{id}},
		{"list by bad digest", []string{"quarantine", "list", "--digest", "sha256:nope"}, "--digest", nil},
		{"show by id", []string{"quarantine", "show", id}, "", []string{"id:          " + id, "MAL-2024-0001", "evil-pkg"}},
		{"note", []string{"quarantine", "note", evil, "asked", "the vendor"}, "", []string{"noted"}},
		{"show by digest", []string{"quarantine", "show", evil}, "", []string{"id:          " + id, "asked the vendor"}},
		{"release needs a reason", []string{"quarantine", "release", id}, `"reason" not set`, nil},
		{"release with a bad expiry", []string{"quarantine", "release", id, "--reason", "x", "--expires", "soon"}, "--expires", nil},
		{"release until a past date", []string{"quarantine", "release", id, "--reason", "x", "--expires", "2020-01-31"}, "--expires: 2020-01-31 is in the past", nil},
		{"release until a past time", []string{"quarantine", "release", id, "--reason", "x", "--expires", "2020-01-31T10:00:00Z"}, "is in the past", nil},
		{"release for days", []string{"quarantine", "release", id, "--reason", "x", "--expires", "30d"}, "", []string{"released"}},
		{"release until a date", []string{"quarantine", "release", id, "--reason", "x", "--expires", "2099-01-31"}, "", []string{"released"}},
		{"the date is kept exactly", []string{"quarantine", "show", id}, "", []string{"expires 2099-01-31T00:00:00Z"}},
		{"release", []string{"quarantine", "release", id, "--reason", "false positive", "--expires", "24h"}, "", []string{"released"}},
		{"released shows", []string{"quarantine", "show", id}, "", []string{"false positive", "in force: true"}},
		{"released image passes", []string{"scan", "evil:1"}, "", []string{"released:    quarantine id " + id, "verdict:     quarantine (malware)"}},
		{"delete needs a reason", []string{"quarantine", "delete", id}, `"reason" not set`, nil},
		{"delete", []string{"quarantine", "delete", evil, "--reason", "judge again"}, "", []string{"deleted"}},
		{"deleted is gone", []string{"quarantine", "show", id}, "not found", nil},
		{"unknown id", []string{"quarantine", "note", "nope", "text"}, "not found", nil},
	}
	for _, st := range steps {
		out, err := fx.run(t, st.args...)
		t.Logf("breakwater %s:\n%s", strings.Join(st.args, " "), out)
		if st.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), st.wantErr) {
				t.Errorf("%s: got error %v, want one containing %q", st.name, err, st.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", st.name, err)
		}
		for _, w := range st.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", st.name, w, out)
			}
		}
	}
}

// TestQuarantineMalformedID: an id the API answers 400 for is called
// malformed, as the API calls it, not looked up and reported missing.
func TestQuarantineMalformedID(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		args []string // after quarantine; the id is first
		want string
	}{
		{[]string{"show", "a b"}, `quarantine id "a b" is malformed`},
		{[]string{"show", "a/b"}, `quarantine id "a/b" is malformed`},
		{[]string{"show", ""}, `quarantine id "" is malformed`},
		{[]string{"show", strings.Repeat("a", 129)}, "is malformed"},
		{[]string{"release", "a?b", "--reason", "x"}, `quarantine id "a?b" is malformed`},
		{[]string{"delete", "a#b", "--reason", "x"}, `quarantine id "a#b" is malformed`},
		{[]string{"note", "a%b", "text"}, `quarantine id "a%b" is malformed`},
		{[]string{"show", "a\x1b[31mRED"}, `quarantine id "a\x1b[31mRED" is malformed`},
		{[]string{"show", "sha256:zz"}, `digest "sha256:zz" is malformed`},
		// Well-formed ids and digests are looked up.
		{[]string{"show", "nope"}, "not found"},
		{[]string{"note", "sha256:" + strings.Repeat("0", 64), "text"}, "not found"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, nil, append(append([]string{"quarantine"}, tt.args...), "--data", data)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// pullManifest GETs a manifest from a running breakwater and returns the
// status, the quarantine id header and the body.
func pullManifest(t *testing.T, addr, repo, ref string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(registry.QuarantineHeader), string(b)
}

// TestFirewallOnRunningServer checks what clients of a running server see
// in each mode, and that the CLI's release and delete are in force on it
// at once.
func TestFirewallOnRunningServer(t *testing.T) {
	t.Run("quarantine answers a bare 404", func(t *testing.T) {
		fx := newFWFixture(t)
		srv := startServe(t, fx.upstream, fx.environ, "--data", fx.data)
		code, id, body := pullManifest(t, srv.addr, "library/evil", "1")
		if code != http.StatusNotFound || id != "" || !strings.Contains(body, "MANIFEST_UNKNOWN") || strings.Contains(body, "malware") {
			t.Errorf("got %d, id %q, %s; want a bare 404 MANIFEST_UNKNOWN", code, id, body)
		}
		// The image's layer is withheld too, however it is asked for.
		d := layerOf(t, fx, "evil")
		resp, err := http.Get("http://" + srv.addr + "/v2/library/evil/blobs/" + d)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("layer of the withheld image: got %d, want 404", resp.StatusCode)
		}
		if code, _, body := pullManifest(t, srv.addr, "library/clean", "1"); code != http.StatusOK {
			t.Errorf("clean image: got %d %s, want 200", code, body)
		}
	})

	t.Run("audit serves and records", func(t *testing.T) {
		fx := newFWFixture(t)
		srv := startServe(t, fx.upstream, fx.environ, "--data", fx.data, "--firewall", "audit")
		if code, _, body := pullManifest(t, srv.addr, "library/evil", "1"); code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", code, body)
		}
		out, err := fx.run(t, "audit", "--repo", "docker.io/library/evil", "--action", "violation")
		if err != nil || !strings.Contains(out, "violation") || !strings.Contains(out, fx.digests["evil"]) {
			t.Errorf("audit: got %v\n%s\nwant the violation of docker.io/library/evil@%s", err, out, fx.digests["evil"])
		}
		if out, _ := fx.run(t, "quarantine", "list"); !strings.Contains(out, "no quarantine records") {
			t.Errorf("audit mode quarantined something:\n%s", out)
		}
	})

	t.Run("release and delete are in force at once", func(t *testing.T) {
		fx := newFWFixture(t)
		srv := startServe(t, fx.upstream, append(fx.environ, "BREAKWATER_FIREWALL_SHOW_REASON=true"), "--data", fx.data)
		code, id, body := pullManifest(t, srv.addr, "library/evil", "1")
		if code != http.StatusForbidden || id == "" || !strings.Contains(body, "DENIED") || !strings.Contains(body, "malware") || !strings.Contains(body, id) {
			t.Fatalf("before release: got %d, id %q, %s; want 403 DENIED naming malware and the id", code, id, body)
		}
		if _, err := fx.run(t, "quarantine", "release", id, "--reason", "reviewed"); err != nil {
			t.Fatalf("release: %v", err)
		}
		if code, _, body := pullManifest(t, srv.addr, "library/evil", "1"); code != http.StatusOK {
			t.Errorf("after release: got %d %s, want 200", code, body)
		}
		if _, err := fx.run(t, "quarantine", "delete", id, "--reason", "judge again"); err != nil {
			t.Fatalf("delete: %v", err)
		}
		code, again, body := pullManifest(t, srv.addr, "library/evil", "1")
		if code != http.StatusForbidden || again == "" || again == id {
			t.Errorf("after delete: got %d, id %q (was %q), %s; want 403 with a new quarantine id", code, again, id, body)
		}
	})
}

// layerOf returns the digest of the one layer of the fixture's image repo.
func layerOf(t *testing.T, fx *fwFixture, repo string) string {
	t.Helper()
	ref, err := name.ParseReference(strings.TrimPrefix(fx.upstream, "http://")+"/library/"+repo+":1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("got %d layers (%v), want 1", len(layers), err)
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestScanUpstreamFlag: --upstream overrides the configured default
// upstream, as it does for serve.
func TestScanUpstreamFlag(t *testing.T) {
	fx := newFWFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	env := []string{"BREAKWATER_UPSTREAM=" + dead, "BREAKWATER_UPSTREAMS_DOCKER_IO_RETRIES=0"}
	_, _, err = run(t, env, "scan", "missing:1", "--data", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("scan from the configured upstream, which is down: %v", err)
	}
	_, _, err = run(t, env, "scan", "missing:1", "--data", t.TempDir(), "--upstream", fx.upstream)
	if err == nil || !strings.Contains(err.Error(), "404 NAME_UNKNOWN") {
		t.Errorf("scan --upstream: %v, want the flag's upstream to answer that missing:1 does not exist", err)
	}
}
