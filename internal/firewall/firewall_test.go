package firewall_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/registry"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
)

// TestVerdicts pulls images of each kind through repositories in each mode
// and checks what the client sees of the manifest (GET and HEAD) and of
// each blob, asked for by digest.
func TestVerdicts(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())

	tests := []struct {
		name      string
		repo      string
		files     []file
		status    int
		code      string
		showsID   bool
		blobs     int // status of blob requests
		audit     string
		result    string
		messageIn string
	}{
		{name: "clean image allowed", repo: "quar/clean", files: cleanFiles, status: 200, blobs: 200, result: "allow"},
		{name: "malware quarantined", repo: "quar/mal", files: malwareFiles, status: 404, code: "MANIFEST_UNKNOWN", blobs: 404, audit: firewall.ActionQuarantined, result: "quarantine"},
		{name: "critical cve quarantined", repo: "quar/deb", files: debianFiles, status: 404, code: "MANIFEST_UNKNOWN", blobs: 404, audit: firewall.ActionQuarantined, result: "quarantine"},
		{name: "message mode", repo: "shown/mal", files: malwareFiles, status: 403, code: "DENIED", showsID: true, blobs: 404, audit: firewall.ActionQuarantined, result: "quarantine", messageIn: "blocked by breakwater policy malware; quarantine id "},
		{name: "audit mode serves", repo: "audit/mal", files: malwareFiles, status: 200, blobs: 200, audit: firewall.ActionViolation, result: "audit"},
		{name: "hostile layer fails closed", repo: "quar/hostile", files: hostileFiles, status: 404, code: "MANIFEST_UNKNOWN", blobs: 404, audit: firewall.ActionQuarantined, result: "inspection-failed"},
		{name: "hostile layer served fail open", repo: "open/hostile", files: hostileFiles, status: 200, blobs: 200, audit: firewall.ActionViolation, result: "audit"},
		{name: "mode off", repo: "off/mal", files: malwareFiles, status: 200, blobs: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := e.push(tt.repo+":1", image(t, tt.files, "amd64", tt.name))
			for _, method := range []string{"GET", "HEAD"} {
				for _, ref := range []string{"1", img.manifest.String()} {
					r := e.manifest(method, tt.repo, ref)
					wantStatus(t, method+" manifest "+ref, r, tt.status, tt.code)
					if method == "GET" && !strings.Contains(r.msg, tt.messageIn) {
						t.Errorf("message = %q, want it to contain %q", r.msg, tt.messageIn)
					}
					id := r.header.Get(registry.QuarantineHeader)
					if tt.showsID && (id == "" || !strings.HasSuffix(r.msg, id) && method == "GET") {
						t.Errorf("%s: header %s = %q, message %q; want the id in both", method, registry.QuarantineHeader, id, r.msg)
					}
					if !tt.showsID && id != "" {
						t.Errorf("%s: header %s = %q, want none", method, registry.QuarantineHeader, id)
					}
				}
				for _, d := range append([]digest.Digest{img.config}, img.layers...) {
					code := ""
					if tt.blobs == 404 {
						code = "BLOB_UNKNOWN"
					}
					wantStatus(t, method+" blob "+d.String(), e.blob(method, tt.repo, d), tt.blobs, code)
				}
			}

			judged := e.audit(img.manifest, firewall.ActionJudged)
			if tt.result == "" {
				if len(judged) != 0 {
					t.Errorf("judged entries = %d, want none in mode off", len(judged))
				}
				return
			}
			if len(judged) != 1 || !strings.Contains(judged[0].Details, "result="+tt.result+" ") {
				t.Errorf("judged entries = %+v, want one with result=%s", judged, tt.result)
			}
			if tt.audit != "" && len(e.audit(img.manifest, tt.audit)) != 1 {
				t.Errorf("audit entries %s = %d, want 1", tt.audit, len(e.audit(img.manifest, tt.audit)))
			}
		})
	}
}

// TestQuarantineRecord checks what a record holds.
func TestQuarantineRecord(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	img := e.push("shown/deb:12", image(t, debianFiles, "arm64", "record"))

	r := e.manifest("GET", "shown/deb", "12")
	wantStatus(t, "manifest", r, 403, "DENIED")
	recs, err := e.fw.Show(t.Context(), r.header.Get(registry.QuarantineHeader))
	if err != nil || len(recs) != 1 {
		t.Fatalf("Show(id) = %d records, %v; want 1", len(recs), err)
	}
	rec := recs[0]
	if rec.Repo != "docker.io/shown/deb" || rec.Upstream != "docker.io" || rec.Tag != "12" || rec.Digest != img.manifest || rec.Platform != "linux/arm64" {
		t.Errorf("record image = %s %s %s:%s@%s, want docker.io docker.io/shown/deb:12@%s linux/arm64", rec.Platform, rec.Upstream, rec.Repo, rec.Tag, rec.Digest, img.manifest)
	}
	if rec.RequestedBy != "127.0.0.1" || rec.RequestedAt.IsZero() {
		t.Errorf("requested by %q at %v, want 127.0.0.1 at a time", rec.RequestedBy, rec.RequestedAt)
	}
	if len(rec.Policies) != 1 || rec.Policies[0] != "cvss-8" {
		t.Errorf("policies = %v, want [cvss-8]", rec.Policies)
	}
	ev := rec.Evidence
	if ev.Components != 2 || len(ev.Findings) != 1 {
		t.Fatalf("evidence has %d components, %d findings; want 2, 1", ev.Components, len(ev.Findings))
	}
	f := ev.Findings[0]
	if f.ID != "CVE-2099-1234" || f.FixedVersion != "3.0.16-1~deb12u1" || f.Score != 9.8 || f.Severity != "critical" || f.Component.Name != "libssl3" {
		t.Errorf("finding = %+v, want CVE-2099-1234 in libssl3 fixed in 3.0.16-1~deb12u1 scored 9.8 critical", f)
	}

	byDigest, err := e.fw.Show(t.Context(), img.manifest.String())
	if err != nil || len(byDigest) != 1 || byDigest[0].ID != rec.ID {
		t.Errorf("Show(digest) = %v, %v; want the same record", byDigest, err)
	}
	list, err := e.fw.List(t.Context(), firewall.Filter{}, 0, 0)
	if err != nil || len(list) != 1 {
		t.Errorf("List = %d records, %v; want 1", len(list), err)
	}
	if err := e.fw.AddNote(t.Context(), rec.ID, "admin", "looking into it"); err != nil {
		t.Fatalf("AddNote: %v", err)
	}
	recs, _ = e.fw.Show(t.Context(), rec.ID)
	if len(recs[0].Notes) != 1 || recs[0].Notes[0].Text != "looking into it" || recs[0].Notes[0].By != "admin" {
		t.Errorf("notes = %+v, want the one added", recs[0].Notes)
	}
	if _, err := e.fw.Show(t.Context(), "000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Show(unknown id) = %v, want ErrNotFound", err)
	}
}

// TestConcurrentFirstPulls checks that first pulls arriving together share
// one inspection and all get its verdict.
func TestConcurrentFirstPulls(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := e.push("quar/busy:1", image(t, malwareFiles, "amd64", "busy"))

	// Hold the layer at the upstream until every client has asked.
	const clients = 8
	hold := make(chan struct{})
	e.up.mu.Lock()
	e.up.hold = hold
	e.up.mu.Unlock()
	var arrived sync.WaitGroup
	arrived.Add(clients)
	inner := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		inner.ServeHTTP(w, r)
	})

	statuses := make([]int, clients)
	var done sync.WaitGroup
	for i := range clients {
		done.Add(1)
		go func() {
			defer done.Done()
			statuses[i] = e.manifest("GET", "quar/busy", "1").status
		}()
	}
	arrived.Wait()
	close(hold)
	done.Wait()

	for i, s := range statuses {
		if s != 404 {
			t.Errorf("client %d got %d, want 404", i, s)
		}
	}
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
	if n := e.inspections.Load(); n != 1 {
		t.Errorf("inspections = %d, want 1", n)
	}
	if n := e.up.count("GET /v2/quar/busy/blobs/" + img.layers[0].String()); n != 1 {
		t.Errorf("upstream layer GETs = %d, want 1", n)
	}
}

// TestWaitTimeout checks that a pull waiting past Wait gets a retryable
// 429 while inspection goes on, and a later try the verdict.
func TestWaitTimeout(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings(), func(o *firewall.Options) { o.Wait = 10 * time.Millisecond })
	img := e.push("quar/slow:1", image(t, malwareFiles, "amd64", "slow"))

	hold := make(chan struct{})
	e.up.mu.Lock()
	e.up.hold = hold
	e.up.mu.Unlock()

	r := e.manifest("GET", "quar/slow", "1")
	wantStatus(t, "first pull", r, http.StatusTooManyRequests, "TOOMANYREQUESTS")
	if r.msg != "image is being inspected, retry later" || r.header.Get("Retry-After") == "" {
		t.Errorf("message %q, Retry-After %q; want the inspection message and a Retry-After", r.msg, r.header.Get("Retry-After"))
	}
	close(hold)

	// The inspection goes on without the client; poll for its verdict,
	// bounded in count, not asserting how long it takes.
	for i := 0; i < 3000 && len(e.audit(img.manifest, firewall.ActionJudged)) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	wantStatus(t, "next pull", e.manifest("GET", "quar/slow", "1"), 404, "MANIFEST_UNKNOWN")
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
}

// TestReleaseExpireDelete walks a quarantined image through release, the
// waiver's expiry and delete.
func TestReleaseExpireDelete(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := e.push("shown/app:1", image(t, malwareFiles, "amd64", "release"))
	ctx := t.Context()

	r := e.manifest("GET", "shown/app", "1")
	wantStatus(t, "quarantined", r, 403, "DENIED")
	id := r.header.Get(registry.QuarantineHeader)

	if err := e.fw.Release(ctx, id, "admin", "false positive", e.clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantStatus(t, "released manifest", e.manifest("GET", "shown/app", "1"), 200, "")
	wantStatus(t, "released layer", e.blob("GET", "shown/app", img.layers[0]), 200, "")
	recs, _ := e.fw.Show(ctx, id)
	if len(recs) != 1 || !recs[0].Released || recs[0].Waiver.Reason != "false positive" {
		t.Errorf("record after release = %+v, want released with the reason", recs)
	}

	e.clock.Add(2 * time.Hour)
	wantStatus(t, "after expiry", e.manifest("GET", "shown/app", "1"), 403, "DENIED")
	wantStatus(t, "layer after expiry", e.blob("GET", "shown/app", img.layers[0]), 404, "BLOB_UNKNOWN")

	manifestGETs := e.up.count("GET /v2/shown/app/manifests/")
	if err := e.fw.Delete(ctx, img.manifest.String(), "admin", "judge again"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.fw.Show(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Show after delete = %v, want ErrNotFound", err)
	}
	if _, err := e.blobs.Stat(ctx, img.layers[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("layer bytes after delete: Stat = %v, want ErrNotFound", err)
	}
	r = e.manifest("GET", "shown/app", "1")
	wantStatus(t, "pull after delete", r, 403, "DENIED")
	if r.header.Get(registry.QuarantineHeader) == id {
		t.Errorf("quarantine id after delete = the old one, want a new record")
	}
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 2 {
		t.Errorf("judged %d times, want twice (before and after delete)", n)
	}
	if got := e.up.count("GET /v2/shown/app/manifests/"); got <= manifestGETs {
		t.Errorf("upstream manifest GETs after delete = %d, want more than %d: the manifest must be fetched again", got, manifestGETs)
	}
	for _, action := range []string{firewall.ActionReleased, firewall.ActionDeleted} {
		entries := e.audit(img.manifest, action)
		if len(entries) != 1 || entries[0].Actor != "admin" {
			t.Errorf("audit %s = %+v, want one by admin", action, entries)
		}
	}
}

// TestNotReady checks the firewall before any vulnerability data exists.
func TestNotReady(t *testing.T) {
	e := newEnv(t)
	e.start(testSettings())
	if err := e.fw.Ready(t.Context()); !errors.Is(err, firewall.ErrNotReady) {
		t.Errorf("Ready = %v, want ErrNotReady", err)
	}
	early := image(t, cleanFiles, "amd64", "early")
	img := e.push("quar/early:1", early)
	e.push("audit/early:1", early)

	r := e.manifest("GET", "quar/early", "1")
	wantStatus(t, "quarantine repo", r, 503, "UNAVAILABLE")
	if r.msg != "vulnerability data not loaded" {
		t.Errorf("message = %q, want vulnerability data not loaded", r.msg)
	}
	wantStatus(t, "audit repo", e.manifest("GET", "audit/early", "1"), 200, "")
	wantStatus(t, "audit repo layer", e.blob("GET", "audit/early", img.layers[0]), 200, "")
	if n := len(e.audit(img.manifest, firewall.ActionNotInspected)); n != 1 {
		t.Errorf("not-inspected entries = %d, want 1", n)
	}

	// Once data is loaded the image is judged.
	e.load("feeds", malRecord)
	if err := e.fw.Ready(t.Context()); err != nil {
		t.Errorf("Ready after load = %v", err)
	}
	wantStatus(t, "quarantine repo after load", e.manifest("GET", "quar/early", "1"), 200, "")
}

// TestCachedBeforeFirewall checks that an image cached while the firewall
// was off is audited, not quarantined.
func TestCachedBeforeFirewall(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)

	// An admin command run while the firewall is off does not turn it on.
	admin, err := firewall.New(firewall.Options{Meta: e.meta, Store: e.meta, Blobs: e.blobs, Settings: testSettings()})
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()

	old := e.push("quar/old:1", image(t, malwareFiles, "amd64", "old"))
	e.serve(nil)
	wantStatus(t, "pull without firewall", e.manifest("GET", "quar/old", "1"), 200, "")

	e.clock.set(time.Now()) // the firewall starts after the pull
	e.start(testSettings())
	fresh := e.push("quar/new:1", image(t, malwareFiles, "amd64", "new"))

	wantStatus(t, "cached before", e.manifest("GET", "quar/old", "1"), 200, "")
	wantStatus(t, "cached before, layer", e.blob("GET", "quar/old", old.layers[0]), 200, "")
	wantStatus(t, "cached after", e.manifest("GET", "quar/new", "1"), 404, "MANIFEST_UNKNOWN")
	judged := e.audit(old.manifest, firewall.ActionJudged)
	if len(judged) != 1 || !strings.Contains(judged[0].Details, "cached_before_firewall=true") {
		t.Errorf("judged = %+v, want one marked cached before the firewall", judged)
	}
	if len(e.audit(fresh.manifest, firewall.ActionQuarantined)) != 1 {
		t.Errorf("new image not quarantined")
	}
}

// TestReevaluate checks that new vulnerability data records new violations
// of served images and blocks them only with BlockServed.
func TestReevaluate(t *testing.T) {
	for _, blockServed := range []bool{false, true} {
		name := map[bool]string{false: "served stay served", true: "block served"}[blockServed]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.load("malware", malRecord)
			settings := testSettings()
			settings.BlockServed = blockServed
			e.start(settings)
			img := e.push("quar/deb:12", image(t, debianFiles, "amd64", name))
			wantStatus(t, "before new data", e.manifest("GET", "quar/deb", "12"), 200, "")

			e.load("debian", debianRecord)
			n, err := e.fw.Reevaluate(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("Reevaluate = %d, %v; want 1 image with new violations", n, err)
			}
			violations := e.audit(img.manifest, firewall.ActionViolation)
			if len(violations) == 0 || violations[0].Actor != "reevaluation" {
				t.Errorf("violations = %+v, want entries by reevaluation", violations)
			}
			want, code := 200, ""
			if blockServed {
				want, code = 404, "MANIFEST_UNKNOWN"
			}
			wantStatus(t, "after re-evaluation", e.manifest("GET", "quar/deb", "12"), want, code)
			recs, err := e.fw.List(t.Context(), firewall.Filter{Repo: "docker.io/quar/deb"}, 0, 0)
			if err != nil || len(recs) != map[bool]int{false: 0, true: 1}[blockServed] {
				t.Errorf("records = %+v, %v; want one only when served images are blocked", recs, err)
			}

			if n, err := e.fw.Reevaluate(t.Context()); err != nil || n != 0 {
				t.Errorf("second Reevaluate = %d, %v; want nothing new", n, err)
			}
		})
	}
}

// TestMultiPlatform checks that each platform of an index is judged by
// itself: the platform with malware is withheld, the other served.
func TestMultiPlatform(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	amd64 := image(t, cleanFiles, "amd64", "multi")
	arm64 := image(t, malwareFiles, "arm64", "multi")
	idx := e.pushIndex("quar/multi:1", map[string]v1.Image{"amd64": amd64, "arm64": arm64})
	good, bad := describe(t, amd64), describe(t, arm64)

	wantStatus(t, "index", e.manifest("GET", "quar/multi", "1"), 200, "")
	wantStatus(t, "index by digest", e.manifest("HEAD", "quar/multi", idx.String()), 200, "")
	wantStatus(t, "amd64", e.manifest("GET", "quar/multi", good.manifest.String()), 200, "")
	wantStatus(t, "amd64 layer", e.blob("GET", "quar/multi", good.layers[0]), 200, "")
	wantStatus(t, "arm64", e.manifest("GET", "quar/multi", bad.manifest.String()), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "arm64 layer", e.blob("GET", "quar/multi", bad.layers[0]), 404, "BLOB_UNKNOWN")
	recs, err := e.fw.Show(t.Context(), bad.manifest.String())
	if err != nil || len(recs) != 1 || recs[0].Tag != "1" || recs[0].Platform != "linux/arm64" {
		t.Errorf("record = %+v, %v; want one for linux/arm64 with the index's tag", recs, err)
	}

	// A client choosing its platform, as docker does.
	ref, err := name.ParseReference(strings.TrimPrefix(e.srv.URL, "http://")+"/quar/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		arch string
		ok   bool
	}{{"amd64", true}, {"arm64", false}} {
		img, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: tt.arch}), remote.WithContext(t.Context()))
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if (err == nil) != tt.ok {
			t.Errorf("pull linux/%s: err = %v, want success %v", tt.arch, err, tt.ok)
		}
	}
}

// TestAuditSurvivesReopen checks that audit entries and quarantine records
// are kept across a restart of the store.
func TestAuditSurvivesReopen(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := e.push("quar/kept:1", image(t, malwareFiles, "amd64", "kept"))
	wantStatus(t, "pull", e.manifest("GET", "quar/kept", "1"), 404, "MANIFEST_UNKNOWN")
	before := e.audit(img.manifest, "")

	m, err := sqlite.Open(e.dir + "/meta.db")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fw, err := firewall.New(firewall.Options{Meta: m, Store: m, Blobs: e.blobs, Settings: testSettings()})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	after, err := fw.Audit(t.Context(), store.AuditFilter{Digest: img.manifest}, 0, 0)
	if err != nil || len(after) != len(before) || len(after) < 2 {
		t.Errorf("audit after reopen = %d entries, %v; want the %d written before", len(after), err, len(before))
	}
	recs, err := fw.List(t.Context(), firewall.Filter{Repo: "docker.io/quar/kept"}, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Errorf("records after reopen = %d, %v; want 1", len(recs), err)
	}
}

// TestModeOverride checks that a whole-firewall mode override reaches
// every repository.
func TestModeOverride(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings().WithMode(policy.ModeAudit))
	img := e.push("quar/any:1", image(t, malwareFiles, "amd64", "override"))
	wantStatus(t, "audit everywhere", e.manifest("GET", "quar/any", "1"), 200, "")

	// Restarted in quarantine mode the image is judged by its verdict.
	e.fw.Close()
	e.start(testSettings())
	wantStatus(t, "quarantine again", e.manifest("GET", "quar/any", "1"), 200, "")

	// An image withheld in quarantine mode is served once the mode is audit.
	other := e.push("quar/other:1", image(t, malwareFiles, "amd64", "override other"))
	wantStatus(t, "quarantined", e.manifest("GET", "quar/other", "1"), 404, "MANIFEST_UNKNOWN")
	e.fw.Close()
	e.start(testSettings().WithMode(policy.ModeAudit))
	wantStatus(t, "withheld image under audit", e.manifest("GET", "quar/other", "1"), 200, "")
	wantStatus(t, "its layer", e.blob("GET", "quar/other", other.layers[0]), 200, "")
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
}

// TestArtifacts checks that a manifest that is no image (a signature) is
// served without inspection, while one with a tar layer is inspected
// whatever its config says.
func TestArtifacts(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())

	sig := artifact(t, static.NewLayer([]byte(`{"critical":{}}`), "application/vnd.dev.cosign.simplesigning.v1+json"))
	signed := e.push("quar/signed:sig", sig)
	wantStatus(t, "signature", e.manifest("GET", "quar/signed", "sig"), 200, "")
	wantStatus(t, "signature layer", e.blob("GET", "quar/signed", signed.layers[0]), 200, "")

	// An attestation: an image config with an in-toto layer.
	att, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json")})
	if err != nil {
		t.Fatal(err)
	}
	attested := e.push("quar/signed:att", mutate.MediaType(att, types.OCIManifestSchema1))
	wantStatus(t, "attestation", e.manifest("GET", "quar/signed", "att"), 200, "")
	wantStatus(t, "attestation layer", e.blob("GET", "quar/signed", attested.layers[0]), 200, "")

	// A Helm chart: its tar is no container layer.
	chart, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(tarBytes(t, []*tar.Header{{Name: "chart/Chart.yaml", Typeflag: tar.TypeReg, Mode: 0o644}}), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")})
	if err != nil {
		t.Fatal(err)
	}
	chart = mutate.ConfigMediaType(mutate.MediaType(chart, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json")
	e.push("quar/chart:1", chart)
	wantStatus(t, "helm chart", e.manifest("GET", "quar/chart", "1"), 200, "")

	mal, err := image(t, malwareFiles, "amd64", "disguised").Layers()
	if err != nil {
		t.Fatal(err)
	}
	disguised := e.push("quar/disguised:1", artifact(t, mal[0]))
	wantStatus(t, "tar layer behind an artifact config", e.manifest("GET", "quar/disguised", "1"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "its layer", e.blob("GET", "quar/disguised", disguised.layers[0]), 404, "BLOB_UNKNOWN")
}

// artifact builds a manifest with a non-image config around layer.
func artifact(t *testing.T, layer v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), "application/vnd.dev.cosign.artifact.sig.v1+json")
}

// TestJudge checks the verdict API a scan command uses.
func TestJudge(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	img := e.push("audit/deb:12", image(t, debianFiles, "amd64", "judge"))
	idx := e.pushIndex("audit/multi:1", map[string]v1.Image{"amd64": image(t, cleanFiles, "amd64", "judge")})
	repo := cache.Repo{Upstream: "docker.io", Path: "audit/deb"}

	m, err := e.cache.Manifest(t.Context(), repo, oci.Reference{Tag: "12"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.fw.Judge(t.Context(), repo, oci.Reference{Tag: "12"}, m)
	if err != nil {
		t.Fatalf("Judge: %v", err)
	}
	if j.Result != policy.ResultAudit || !j.Served || j.Digest != img.manifest || len(j.Evidence.Findings) != 1 || j.Evidence.Platform != "linux/amd64" {
		t.Errorf("Judge = %+v, want an audited, served image with one finding", j)
	}
	again, err := e.fw.Verdict(t.Context(), repo.String(), img.manifest)
	if err != nil || !again.JudgedAt.Equal(j.JudgedAt) {
		t.Errorf("Verdict = %+v, %v; want the stored judgement", again, err)
	}

	multi := cache.Repo{Upstream: "docker.io", Path: "audit/multi"}
	im, err := e.cache.Manifest(t.Context(), multi, oci.Reference{Digest: idx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fw.Judge(t.Context(), multi, oci.Reference{Digest: idx}, im); !errors.Is(err, oci.ErrUnsupported) {
		t.Errorf("Judge(index) = %v, want ErrUnsupported", err)
	}
}

// labelled is a manifest pushed under a media type of the test's choice.
type labelled struct {
	body []byte
	mt   types.MediaType
}

func (l labelled) RawManifest() ([]byte, error)        { return l.body, nil }
func (l labelled) MediaType() (types.MediaType, error) { return l.mt, nil }

// TestImageLabelledIndex checks that an upstream cannot pass an image off
// as an index, which is not judged itself.
func TestImageLabelledIndex(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "labelled")
	p := e.push("quar/labelled:real", img)
	body, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(e.ref("quar/labelled:fake"), labelled{body, types.OCIImageIndex}, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push labelled manifest: %v", err)
	}
	wantStatus(t, "image labelled an index", e.manifest("GET", "quar/labelled", "fake"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "its layer", e.blob("GET", "quar/labelled", p.layers[0]), 404, "BLOB_UNKNOWN")
}

// TestUpstreamFailsDuringInspection checks that an inspection that cannot
// read the layers leaves no verdict: a quarantine repository answers 503,
// an audit one serves, and the next pull after the upstream recovers is
// judged.
func TestUpstreamFailsDuringInspection(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "trouble")
	p := e.push("quar/trouble:1", img)
	e.push("audit/trouble:1", img)

	e.up.mu.Lock()
	e.up.failBlobs = true
	e.up.mu.Unlock()
	r := e.manifest("GET", "quar/trouble", "1")
	wantStatus(t, "quarantine repo", r, 503, "UNAVAILABLE")
	if r.msg != "image could not be inspected, retry later" {
		t.Errorf("message = %q, want the retry message", r.msg)
	}
	wantStatus(t, "audit repo", e.manifest("GET", "audit/trouble", "1"), 200, "")
	if n := len(e.audit(p.manifest, firewall.ActionNotInspected)); n != 1 {
		t.Errorf("not-inspected entries = %d, want 1", n)
	}
	if n := len(e.audit(p.manifest, firewall.ActionJudged)); n != 0 {
		t.Errorf("judged %d times while the upstream failed, want never", n)
	}

	e.up.mu.Lock()
	e.up.failBlobs = false
	e.up.mu.Unlock()
	wantStatus(t, "after recovery", e.manifest("GET", "quar/trouble", "1"), 404, "MANIFEST_UNKNOWN")
}

// TestReleaseAhead checks that a digest released before its first pull is
// served, and that its record says so.
func TestReleaseAhead(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	p := e.push("quar/ahead:1", image(t, malwareFiles, "amd64", "ahead"))

	if err := e.fw.Release(t.Context(), p.manifest.String(), "admin", "known good build", time.Time{}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantStatus(t, "released ahead", e.manifest("GET", "quar/ahead", "1"), 200, "")
	wantStatus(t, "its layer", e.blob("GET", "quar/ahead", p.layers[0]), 200, "")
	recs, err := e.fw.Show(t.Context(), p.manifest.String())
	if err != nil || len(recs) != 1 || !recs[0].Released || recs[0].Result != "quarantine" {
		t.Errorf("Show = %+v, %v; want one released record of a quarantine verdict", recs, err)
	}
	if err := e.fw.Release(t.Context(), "nosuchid", "admin", "", time.Time{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Release(unknown id) = %v, want ErrNotFound", err)
	}
}

// TestHostileLayers checks that hostile or broken layers end in the
// verdict inspection-failed with their reason, on the whole pull path.
func TestHostileLayers(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())

	plain := tarBytes(t, []*tar.Header{{Name: "etc/hostname", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()

	tests := []struct {
		name   string
		layer  v1.Layer
		reason string
	}{
		{"dot-dot path", rawLayer(tarBytes(t, []*tar.Header{{Name: "../../etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}}), types.OCIUncompressedLayer), "path contains .."},
		{"hard link out of the root", rawLayer(tarBytes(t, []*tar.Header{{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}), types.OCIUncompressedLayer), "hard link target leaves the image root"},
		{"tar called gzip", rawLayer(plain, types.DockerLayer), "layer is uncompressed but its media type says gzip"},
		{"truncated gzip", rawLayer(gz.Bytes()[:gz.Len()/2], types.OCILayer), "layer is truncated"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, tt.layer)
			if err != nil {
				t.Fatal(err)
			}
			repo := fmt.Sprintf("quar/hostile%d", i)
			p := e.push(repo+":1", img)
			wantStatus(t, "manifest", e.manifest("GET", repo, "1"), 404, "MANIFEST_UNKNOWN")
			wantStatus(t, "layer", e.blob("GET", repo, p.layers[0]), 404, "BLOB_UNKNOWN")
			j, err := e.fw.Verdict(t.Context(), "docker.io/"+repo, p.manifest)
			if err != nil {
				t.Fatalf("Verdict: %v", err)
			}
			if j.Result != policy.ResultInspectionFailed || !strings.Contains(j.Evidence.InspectionError, tt.reason) {
				t.Errorf("verdict %s, inspection error %q; want inspection-failed with %q", j.Result, j.Evidence.InspectionError, tt.reason)
			}
		})
	}
}

// tarBytes writes headers (with bodies of zeros of their size) as a tar.
func tarBytes(t *testing.T, hdrs []*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, h.Size))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawLayer is a layer of exactly these bytes under media type mt.
func rawLayer(b []byte, mt types.MediaType) v1.Layer { return static.NewLayer(b, mt) }

// TestSameImageTwoRepositories checks that an image held by two
// repositories is inspected once and judged in each by its settings.
func TestSameImageTwoRepositories(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "twice")
	p := e.push("quar/twice:1", img)
	e.push("audit/twice:1", img)

	wantStatus(t, "quarantine repo", e.manifest("GET", "quar/twice", "1"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "audit repo", e.manifest("GET", "audit/twice", "1"), 200, "")
	wantStatus(t, "audit repo layer", e.blob("GET", "audit/twice", p.layers[0]), 200, "")
	wantStatus(t, "quarantine repo layer", e.blob("GET", "quar/twice", p.layers[0]), 404, "BLOB_UNKNOWN")
	gets := e.up.count("GET /v2/quar/twice/blobs/"+p.layers[0].String()) + e.up.count("GET /v2/audit/twice/blobs/"+p.layers[0].String())
	if gets != 1 {
		t.Errorf("upstream layer GETs = %d, want 1", gets)
	}
	if n := e.inspections.Load(); n != 1 {
		t.Errorf("inspections = %d, want 1", n)
	}
}

// TestDeleteAudited checks that an audited image, which has no quarantine
// record, can be deleted by digest and is judged afresh.
func TestDeleteAudited(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	p := e.push("audit/again:1", image(t, malwareFiles, "amd64", "again"))
	wantStatus(t, "audited", e.manifest("GET", "audit/again", "1"), 200, "")

	if err := e.fw.Delete(t.Context(), p.manifest.String(), "admin", "judge again"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.fw.Verdict(t.Context(), "docker.io/audit/again", p.manifest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Verdict after delete = %v, want ErrNotFound", err)
	}
	wantStatus(t, "pull after delete", e.manifest("GET", "audit/again", "1"), 200, "")
	if n := len(e.audit(p.manifest, firewall.ActionJudged)); n != 2 {
		t.Errorf("judged %d times, want twice", n)
	}
	if err := e.fw.Delete(t.Context(), digest.FromString("never seen").String(), "admin", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Delete(unknown digest) = %v, want ErrNotFound", err)
	}
}

// TestAdminInAnotherProcess checks that a release and a delete made
// through another connection to the same store, as the CLI makes them,
// are in force on the running firewall at once.
func TestAdminInAnotherProcess(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	p := e.push("quar/cli:1", image(t, malwareFiles, "amd64", "cli"))
	wantStatus(t, "quarantined", e.manifest("GET", "quar/cli", "1"), 404, "MANIFEST_UNKNOWN")

	m, err := sqlite.Open(e.dir + "/meta.db")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cli, err := firewall.New(firewall.Options{Meta: m, Store: m, Blobs: e.blobs, Settings: testSettings()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	if err := cli.Release(t.Context(), p.manifest.String(), "cli-user", "vendor fixed it", time.Time{}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wantStatus(t, "after release elsewhere", e.manifest("GET", "quar/cli", "1"), 200, "")
	if err := cli.Delete(t.Context(), p.manifest.String(), "cli-user", "judge again"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantStatus(t, "after delete elsewhere", e.manifest("GET", "quar/cli", "1"), 404, "MANIFEST_UNKNOWN")
	if n := len(e.audit(p.manifest, firewall.ActionJudged)); n != 2 {
		t.Errorf("judged %d times, want twice", n)
	}
}
