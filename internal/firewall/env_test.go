package firewall_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/firewall"
	"breakwater/internal/policy"
	"breakwater/internal/registry"
	"breakwater/internal/store"
	"breakwater/internal/store/fs"
	"breakwater/internal/store/sqlite"
	"breakwater/internal/upstream"
	"breakwater/internal/vulndb"
	vsqlite "breakwater/internal/vulndb/sqlite"
)

// upstreamRegistry is go-containerregistry's in-memory registry counting
// the requests that reach it; hold, when set, is waited on before a blob
// GET is answered, so a test can keep an inspection running.
type upstreamRegistry struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	hold     chan struct{}
	// failBlobs answers blob GETs with 500, like an upstream in trouble.
	failBlobs bool
}

func newUpstream(t *testing.T) *upstreamRegistry {
	t.Helper()
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	u := &upstreamRegistry{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests = append(u.requests, r.Method+" "+r.URL.Path)
		hold, fail := u.hold, u.failBlobs
		u.mu.Unlock()
		if fail && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			http.Error(w, "upstream trouble", http.StatusInternalServerError)
			return
		}
		if hold != nil && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// count returns how many requests so far contained s.
func (u *upstreamRegistry) count(s string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.requests {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n
}

func (u *upstreamRegistry) host() string { return strings.TrimPrefix(u.URL, "http://") }

// clock is a settable test clock for the firewall.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is breakwater's pull path with the firewall: upstream client, cache on
// filesystem and SQLite stores, vulnerability data on SQLite, firewall and
// registry handler on httptest.
type env struct {
	t     *testing.T
	dir   string
	up    *upstreamRegistry
	meta  *sqlite.Meta
	blobs store.Blobs
	cache *cache.Cache
	db    *vulndb.DB
	clock *clock
	fw    *firewall.Firewall
	srv   *httptest.Server
	// inspections counts the inspections the firewall ran.
	inspections atomic.Int64
}

// testSettings: quarantine by default, audit, show_reason and fail_open
// repositories by name.
func testSettings() policy.Firewall {
	f := policy.DefaultFirewall()
	f.Repositories = []policy.RepositoryRule{
		{Match: "docker.io/audit/**", Mode: policy.ModeAudit},
		{Match: "docker.io/shown/**", Mode: policy.ModeQuarantine, ShowReason: true},
		{Match: "docker.io/open/**", Mode: policy.ModeQuarantine, FailOpen: true},
		{Match: "docker.io/off/**", Mode: policy.ModeOff},
	}
	return f
}

// newEnv builds the stack without a firewall yet; start adds it.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), up: newUpstream(t), clock: &clock{t: time.Now()}}
	cl, err := upstream.New(upstream.Options{Name: "docker.io", URL: e.up.URL, Retries: -1})
	if err != nil {
		t.Fatalf("upstream.New: %v", err)
	}
	e.blobs, err = fs.New(filepath.Join(e.dir, "blobs"), fs.Options{NoSync: true})
	if err != nil {
		t.Fatalf("fs.New: %v", err)
	}
	e.meta, err = sqlite.Open(filepath.Join(e.dir, "meta.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	e.cache = cache.New(cache.Options{
		Upstreams: map[string]cache.Upstream{"docker.io": cl},
		Blobs:     e.blobs, Meta: e.meta, TagMaxAge: time.Hour,
	})
	vst, err := vsqlite.Open(filepath.Join(e.dir, "vulndb.db"))
	if err != nil {
		t.Fatalf("vulndb sqlite.Open: %v", err)
	}
	e.db = vulndb.New(vst, nil)
	t.Cleanup(func() {
		if e.srv != nil {
			e.srv.Close()
		}
		if e.fw != nil {
			e.fw.Close()
		}
		e.cache.Close()
		e.meta.Close()
		e.db.Close()
	})
	return e
}

// serve starts the registry handler with gate (nil: a plain cache).
func (e *env) serve(gate registry.Gate) {
	e.t.Helper()
	if e.srv != nil {
		e.srv.Close()
	}
	router, err := registry.NewRouter("docker.io", registry.Upstream{Name: "docker.io"})
	if err != nil {
		e.t.Fatalf("NewRouter: %v", err)
	}
	e.srv = httptest.NewServer(firewall.Requesters(registry.New(e.cache, router, registry.Options{Gate: gate})))
}

// start adds the firewall with settings and serves through it.
func (e *env) start(settings policy.Firewall, tweak ...func(*firewall.Options)) {
	e.t.Helper()
	opts := firewall.Options{
		Meta: e.meta, Store: e.meta, Blobs: e.blobs,
		Cache: e.cache, VulnDB: e.db,
		Policies: policy.Default(), Settings: settings,
		Wait: time.Minute, Now: e.clock.Now,
	}
	for _, fn := range tweak {
		fn(&opts)
	}
	fw, err := firewall.New(opts)
	if err != nil {
		e.t.Fatalf("firewall.New: %v", err)
	}
	firewall.OnInspect(fw, func(digest.Digest) { e.inspections.Add(1) })
	e.fw = fw
	e.serve(fw)
}

// Records for the vulnerability database: a malicious npm package, and a
// Debian 12 advisory against openssl scored CVSS 9.8.
const (
	malRecord = `{"id": "MAL-2099-0001", "summary": "Malicious code in evil-pkg (npm)",
 "affected": [{"package": {"ecosystem": "npm", "name": "evil-pkg"}, "versions": ["1.0.0"]}]}`
	debianRecord = `{"id": "CVE-2099-1234", "summary": "openssl flaw",
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.16-1~deb12u1"}]}]}],
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}`
)

// load imports records as one source named name.
func (e *env) load(name string, records ...string) {
	e.t.Helper()
	dir := filepath.Join(e.dir, "feeds", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for i, r := range records {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("r%d.json", i)), []byte(r), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := vulndb.Import(e.t.Context(), e.db, dir, vulndb.WithSource(name)); err != nil {
		e.t.Fatalf("import %s: %v", name, err)
	}
}

// file is one tar entry of a test layer.
type file struct{ name, body string }

const debianRelease = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n"

const dpkgStatus = `Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell
`

// Images the tests pull.
var (
	cleanFiles   = []file{{"etc/os-release", debianRelease}, {"usr/share/doc/readme", "nothing to see"}}
	debianFiles  = []file{{"etc/os-release", debianRelease}, {"var/lib/dpkg/status", dpkgStatus}}
	malwareFiles = []file{{"app/node_modules/evil-pkg/package.json", `{"name": "evil-pkg", "version": "1.0.0"}`}}
	hostileFiles = []file{{"../../etc/evil", "escape"}}
)

// image builds a one-layer image of files for os/arch; seed makes images
// with the same files differ.
func image(t *testing.T, files []file, arch, seed string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files = append(files, file{"seed", seed})
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
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
	cfg.OS, cfg.Architecture = "linux", arch
	cfg.Created = v1.Time{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} // fixed, so digests are too
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (e *env) ref(repoTag string) name.Reference {
	e.t.Helper()
	r, err := name.ParseReference(e.up.host()+"/"+repoTag, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// push writes img to the upstream as repoTag and returns what a pull of
// it fetches: manifest, config and layer digests.
func (e *env) push(repoTag string, img v1.Image) pushed {
	e.t.Helper()
	if err := remote.Write(e.ref(repoTag), img, remote.WithContext(e.t.Context())); err != nil {
		e.t.Fatalf("push %s: %v", repoTag, err)
	}
	return describe(e.t, img)
}

// pushed names what an image consists of.
type pushed struct {
	manifest, config digest.Digest
	layers           []digest.Digest
}

func describe(t *testing.T, img v1.Image) pushed {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	p := pushed{manifest: digest.Digest(d.String()), config: digest.Digest(m.Config.Digest.String())}
	for _, l := range m.Layers {
		p.layers = append(p.layers, digest.Digest(l.Digest.String()))
	}
	return p
}

// pushIndex writes an index of imgs (linux/<arch> each) as repoTag.
func (e *env) pushIndex(repoTag string, imgs map[string]v1.Image) digest.Digest {
	e.t.Helper()
	var idx v1.ImageIndex = empty.Index
	for arch, img := range imgs {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	if err := remote.WriteIndex(e.ref(repoTag), idx, remote.WithContext(e.t.Context())); err != nil {
		e.t.Fatalf("push index %s: %v", repoTag, err)
	}
	d, err := idx.Digest()
	if err != nil {
		e.t.Fatal(err)
	}
	return digest.Digest(d.String())
}

// response is what a test checks of an answer.
type response struct {
	method string
	status int
	header http.Header
	code   string
	msg    string
}

// manifestAccept asks for any manifest type, as docker does.
const manifestAccept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

// do sends method to path on breakwater.
func (e *env) do(method, path string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read %s %s: %v", method, path, err)
	}
	r := response{method: method, status: resp.StatusCode, header: resp.Header}
	var eb struct {
		Errors []struct{ Code, Message string }
	}
	if resp.StatusCode >= 400 && method == http.MethodGet && json.Unmarshal(body, &eb) == nil && len(eb.Errors) == 1 {
		r.code, r.msg = eb.Errors[0].Code, eb.Errors[0].Message
	}
	return r
}

func (e *env) manifest(method, repo, ref string) response {
	return e.do(method, "/v2/"+repo+"/manifests/"+ref)
}

func (e *env) blob(method, repo string, d digest.Digest) response {
	return e.do(method, "/v2/"+repo+"/blobs/"+d.String())
}

// audit returns the audit entries for d with action (all if empty).
func (e *env) audit(d digest.Digest, action string) []store.AuditEntry {
	e.t.Helper()
	entries, err := e.fw.Audit(e.t.Context(), store.AuditFilter{Digest: d, Action: action}, 0, 0)
	if err != nil {
		e.t.Fatalf("Audit: %v", err)
	}
	return entries
}

// wantStatus fails the test unless r has status (and code, if given).
func wantStatus(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.method == http.MethodGet && r.code != code) {
		t.Errorf("%s = %d %s %q, want %d %s", what, r.status, r.code, r.msg, status, code)
	}
}
