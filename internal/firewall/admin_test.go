package firewall_test

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/firewall"
	"breakwater/internal/registry"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
)

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

	// A pull the release let through does not make the image one that was
	// served on its own merit, which a re-evaluation (new data, a restart)
	// would keep serving: the block must come back when the release ends.
	if _, err := e.fw.Reevaluate(ctx); err != nil {
		t.Fatalf("Reevaluate during the release: %v", err)
	}
	if v, err := e.fw.Verdict(ctx, "docker.io/shown/app", img.manifest); err != nil || v.Result != "quarantine" || !v.FirstServedAt.IsZero() {
		t.Errorf("verdict after re-evaluation under the release = %+v, %v; want quarantine, never served on its own", v, err)
	}
	wantStatus(t, "released, re-evaluated", e.manifest("GET", "shown/app", "1"), 200, "")

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
	if n := e.inspections.Load(); n != 2 {
		t.Errorf("inspections = %d, want 2: a deleted image is inspected again", n)
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
