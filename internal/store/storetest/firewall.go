package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// FirewallMeta is a backend that keeps both the cache's metadata and the
// firewall's records, as the firewall's cache clean-up needs both.
type FirewallMeta interface {
	store.Meta
	store.Firewall
}

// FirewallBackend is MetaBackend for a FirewallMeta.
type FirewallBackend func(t *testing.T) (open func() FirewallMeta)

// TestFirewall runs the conformance suite for a store.Firewall backend.
func TestFirewall(t *testing.T, backend FirewallBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, m FirewallMeta)
	}{
		{"Missing", testFirewallMissing},
		{"Since", testFirewallSince},
		{"Verdicts", testFirewallVerdicts},
		{"BlobOwners", testFirewallBlobOwners},
		{"Quarantine", testFirewallQuarantine},
		{"Waivers", testFirewallWaivers},
		{"Audit", testFirewallAudit},
		{"AuditQueries", testFirewallAuditQueries},
		{"Pullers", testFirewallPullers},
		{"VerdictsWithVuln", testFirewallVerdictsWithVuln},
		{"Violations", testFirewallViolations},
		{"QuarantineFilters", testFirewallQuarantineFilters},
		{"Policies", testFirewallPolicies},
		{"Forget", testFirewallForget},
		{"Concurrent", testFirewallConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, openFirewall(t, backend(t))) })
	}
	t.Run("Reopen", func(t *testing.T) { testFirewallReopen(t, backend(t)) })
}

func openFirewall(t *testing.T, open func() FirewallMeta) FirewallMeta {
	t.Helper()
	m := open()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

func testFirewallMissing(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"Verdict", func() error { _, err := m.Verdict(ctx, "hub/lib", dg("a")); return err }},
		{"Inventory", func() error { _, err := m.Inventory(ctx, dg("a")); return err }},
		{"Quarantine", func() error { _, err := m.Quarantine(ctx, "abc"); return err }},
		{"Waiver", func() error { _, err := m.Waiver(ctx, dg("a")); return err }},
		{"AddNote", func() error { return m.AddNote(ctx, "abc", store.Note{At: at(0), By: "x", Text: "y"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("got %v; want ErrNotFound", err)
			}
		})
	}
	for name, call := range map[string]func() error{
		"DeleteVerdict":    func() error { return m.DeleteVerdict(ctx, "hub/lib", dg("a")) },
		"DeleteQuarantine": func() error { return m.DeleteQuarantine(ctx, "abc") },
		"DeleteWaiver":     func() error { return m.DeleteWaiver(ctx, dg("a")) },
		"MarkServed":       func() error { return m.MarkServed(ctx, "hub/lib", dg("a"), at(0)) },
	} {
		if err := call(); err != nil {
			t.Errorf("%s of something missing = %v; want nil", name, err)
		}
	}
}

func testFirewallSince(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	for i, want := range []int{1, 1} {
		got, err := m.FirewallSince(ctx, at(i+1))
		if err != nil || !got.Equal(at(want)) {
			t.Errorf("FirewallSince(at(%d)) = %v, %v; want %v, the first time recorded", i+1, got, err, at(want))
		}
	}
}

func testFirewallVerdicts(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	v := store.Verdict{Repo: "hub/lib", Digest: dg("img"), Result: "quarantine", BeforeFirewall: true, Evidence: []byte(`{"x":1}`), JudgedAt: at(1)}
	must(t, m.PutVerdict(ctx, v, []digest.Digest{dg("cfg"), dg("l1")}), "put verdict")
	got, err := m.Verdict(ctx, v.Repo, v.Digest)
	if diff := cmp.Diff(got, v); err != nil || diff != "" {
		t.Errorf("Verdict: %v (-got +want):\n%s", err, diff)
	}

	res, err := m.Result(ctx, v.Repo, v.Digest)
	wantRes := v
	wantRes.Evidence = nil
	if diff := cmp.Diff(res, wantRes); err != nil || diff != "" {
		t.Errorf("Result: %v (-got +want):\n%s", err, diff)
	}
	if _, err := m.Result(ctx, v.Repo, dg("other")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Result of a missing verdict = %v; want ErrNotFound", err)
	}

	// MarkServed keeps the first time.
	must(t, m.MarkServed(ctx, v.Repo, v.Digest, at(2)), "mark served")
	must(t, m.MarkServed(ctx, v.Repo, v.Digest, at(3)), "mark served again")
	got, _ = m.Verdict(ctx, v.Repo, v.Digest)
	if !got.ServedAt.Equal(at(2)) {
		t.Errorf("ServedAt = %v; want %v", got.ServedAt, at(2))
	}

	// Putting again replaces the verdict and its blob list, but keeps the
	// first served time.
	v2 := got
	v2.Result, v2.Artifact, v2.Evidence = "allow", true, nil
	stale := v2
	stale.ServedAt = time.Time{}
	must(t, m.PutVerdict(ctx, stale, []digest.Digest{dg("l2")}), "replace verdict without served time")
	must(t, m.PutVerdict(ctx, v2, []digest.Digest{dg("l2")}), "replace verdict")
	got, _ = m.Verdict(ctx, v.Repo, v.Digest)
	if diff := cmp.Diff(got, v2, equateEmpty); diff != "" {
		t.Errorf("Verdict after replace (-got +want):\n%s", diff)
	}
	blobs, err := m.OwnedBlobs(ctx, v.Repo, v.Digest)
	if diff := cmp.Diff(blobs, []digest.Digest{dg("l2")}); err != nil || diff != "" {
		t.Errorf("OwnedBlobs after replace: %v (-got +want):\n%s", err, diff)
	}

	// Verdicts walks every verdict in (repo, digest) order, page by page.
	must(t, m.PutVerdict(ctx, store.Verdict{Repo: "hub/a", Digest: dg("x"), Result: "allow", JudgedAt: at(1)}, nil), "put")
	must(t, m.PutVerdict(ctx, store.Verdict{Repo: "hub/z", Digest: dg("y"), Result: "allow", JudgedAt: at(1)}, nil), "put")
	var keys []string
	var last store.VerdictKey
	for range 10 {
		page, err := m.Verdicts(ctx, last, 2)
		if err != nil {
			t.Fatalf("Verdicts: %v", err)
		}
		for _, p := range page {
			keys = append(keys, p.Repo)
		}
		if len(page) < 2 {
			break
		}
		last = store.VerdictKey{Repo: page[len(page)-1].Repo, Digest: page[len(page)-1].Digest}
	}
	if diff := cmp.Diff(keys, []string{"hub/a", "hub/lib", "hub/z"}); diff != "" {
		t.Errorf("Verdicts walk (-got +want):\n%s", diff)
	}
	must(t, m.PutVerdict(ctx, store.Verdict{Repo: "hub/b", Digest: dg("x"), Result: "quarantine", Evidence: []byte("{}"), JudgedAt: at(1)}, nil), "put")
	of, err := m.VerdictsOf(ctx, dg("x"))
	var ofRepos []string
	for _, o := range of {
		ofRepos = append(ofRepos, o.Repo)
		if o.Evidence != nil {
			t.Errorf("VerdictsOf: %s has evidence, want none", o.Repo)
		}
	}
	if diff := cmp.Diff(ofRepos, []string{"hub/a", "hub/b"}); err != nil || diff != "" {
		t.Errorf("VerdictsOf: %v (-got +want):\n%s", err, diff)
	}

	// UpdateVerdict changes the judgement, not the blobs or served time.
	v3 := v2
	v3.Result, v3.Evidence, v3.JudgedAt = "quarantine", []byte(`{"y":2}`), at(4)
	must(t, m.UpdateVerdict(ctx, v3), "update verdict")
	got, _ = m.Verdict(ctx, v.Repo, v.Digest)
	if diff := cmp.Diff(got, v3, equateEmpty); diff != "" {
		t.Errorf("Verdict after update (-got +want):\n%s", diff)
	}
	if blobs, _ := m.OwnedBlobs(ctx, v.Repo, v.Digest); len(blobs) != 1 {
		t.Errorf("OwnedBlobs after update = %v; want them kept", blobs)
	}

	must(t, m.DeleteVerdict(ctx, v.Repo, v.Digest), "delete verdict")
	if err := m.UpdateVerdict(ctx, v3); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateVerdict after delete = %v; want ErrNotFound", err)
	}
	if _, err := m.Verdict(ctx, v.Repo, v.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Verdict after delete = %v; want ErrNotFound", err)
	}
	if blobs, _ := m.OwnedBlobs(ctx, v.Repo, v.Digest); len(blobs) != 0 {
		t.Errorf("OwnedBlobs after delete = %v; want none", blobs)
	}

	must(t, m.PutInventory(ctx, dg("img"), []byte("one")), "put inventory")
	must(t, m.PutInventory(ctx, dg("img"), []byte("two")), "replace inventory")
	if inv, err := m.Inventory(ctx, dg("img")); err != nil || string(inv) != "two" {
		t.Errorf("Inventory = %q, %v; want two", inv, err)
	}
	must(t, m.DeleteInventory(ctx, dg("img")), "delete inventory")
	must(t, m.DeleteInventory(ctx, dg("img")), "delete missing inventory")
	if _, err := m.Inventory(ctx, dg("img")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Inventory after delete = %v; want ErrNotFound", err)
	}
}

func testFirewallBlobOwners(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	shared, own := dg("shared"), dg("own")
	a := store.Verdict{Repo: "hub/lib", Digest: dg("a"), Result: "allow", JudgedAt: at(1), Evidence: []byte(`{"big":true}`)}
	b := store.Verdict{Repo: "hub/lib", Digest: dg("b"), Result: "quarantine", JudgedAt: at(1)}
	audited := store.Verdict{Repo: "hub/lib", Digest: dg("audited"), Result: "audit", JudgedAt: at(1)}
	sig := store.Verdict{Repo: "hub/lib", Digest: dg("sig"), Result: "allow", Artifact: true, JudgedAt: at(1)}
	other := store.Verdict{Repo: "hub/other", Digest: dg("c"), Result: "allow", JudgedAt: at(1)}
	must(t, m.PutVerdict(ctx, a, []digest.Digest{shared}), "put a")
	must(t, m.PutVerdict(ctx, b, []digest.Digest{shared, own}), "put b")
	must(t, m.PutVerdict(ctx, audited, []digest.Digest{shared}), "put audited")
	must(t, m.PutVerdict(ctx, sig, []digest.Digest{shared}), "put sig")
	must(t, m.PutVerdict(ctx, other, []digest.Digest{own}), "put other")

	// Images whose result serves come first, then the others, each in
	// digest order.
	serving, rest := sortDigests(a.Digest, audited.Digest), sortDigests(b.Digest, sig.Digest)
	tests := []struct {
		repo string
		blob digest.Digest
		n    int
		want []digest.Digest
	}{
		{"hub/lib", shared, 0, append(serving, rest...)},
		{"hub/lib", shared, 1, serving[:1]},
		{"hub/lib", own, 0, []digest.Digest{b.Digest}},
		{"hub/other", own, 0, []digest.Digest{other.Digest}},
		{"hub/other", shared, 0, nil},
	}
	for _, tt := range tests {
		owners, err := m.BlobOwners(ctx, tt.repo, tt.blob, tt.n)
		var got []digest.Digest
		for _, o := range owners {
			got = append(got, o.Digest)
			if o.Evidence != nil || o.Result == "" {
				t.Errorf("BlobOwners(%s, %s): owner %s has evidence %q, result %q; want none and a result", tt.repo, tt.blob, o.Digest, o.Evidence, o.Result)
			}
		}
		if diff := cmp.Diff(got, tt.want, equateEmpty); err != nil || diff != "" {
			t.Errorf("BlobOwners(%s, %s): %v (-got +want):\n%s", tt.repo, tt.blob, err, diff)
		}
	}
}

// sortDigests returns ds in byte order.
func sortDigests(ds ...digest.Digest) []digest.Digest {
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[j] < ds[i] {
				ds[i], ds[j] = ds[j], ds[i]
			}
		}
	}
	return ds
}

func testFirewallQuarantine(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	q := store.Quarantine{
		ID: "aaaaaaaaaaaa", Upstream: "hub", Repo: "hub/lib", Tag: "1", Digest: dg("img"), Platform: "linux/amd64",
		RequestedAt: at(1), RequestedBy: "10.0.0.1", Policies: []string{"malware"}, Evidence: []byte(`{}`),
	}
	id, err := m.PutQuarantine(ctx, q)
	if err != nil || id != q.ID {
		t.Fatalf("PutQuarantine = %q, %v; want %q", id, err, q.ID)
	}
	again := q
	again.ID, again.RequestedBy = "bbbbbbbbbbbb", "someone else"
	if id, err := m.PutQuarantine(ctx, again); err != nil || id != q.ID {
		t.Errorf("PutQuarantine of the same image = %q, %v; want the first id %q", id, err, q.ID)
	}
	newer := q
	newer.ID, newer.Repo, newer.RequestedAt = "cccccccccccc", "hub/other", at(2)
	must2(t, m, newer)

	must(t, m.AddNote(ctx, q.ID, store.Note{At: at(3), By: "admin", Text: "checked"}), "add note")
	want := q
	want.Notes = []store.Note{{At: at(3), By: "admin", Text: "checked"}}
	got, err := m.Quarantine(ctx, q.ID)
	if diff := cmp.Diff(got, want); err != nil || diff != "" {
		t.Errorf("Quarantine: %v (-got +want):\n%s", err, diff)
	}

	tests := []struct {
		name   string
		filter store.QuarantineFilter
		offset int
		n      int
		want   []string
	}{
		{"all newest first", store.QuarantineFilter{}, 0, 0, []string{newer.ID, q.ID}},
		{"by repo", store.QuarantineFilter{Repo: "hub/lib"}, 0, 0, []string{q.ID}},
		{"by digest", store.QuarantineFilter{Digest: q.Digest}, 0, 0, []string{newer.ID, q.ID}},
		{"page", store.QuarantineFilter{}, 1, 1, []string{q.ID}},
		{"none", store.QuarantineFilter{Digest: dg("other")}, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := m.Quarantines(ctx, tt.filter, tt.offset, tt.n)
			var ids []string
			for _, r := range recs {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(ids, tt.want, equateEmpty); err != nil || diff != "" {
				t.Errorf("Quarantines: %v (-got +want):\n%s", err, diff)
			}
		})
	}

	must(t, m.DeleteQuarantine(ctx, q.ID), "delete")
	if _, err := m.Quarantine(ctx, q.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Quarantine after delete = %v; want ErrNotFound", err)
	}
	// The image may be quarantined again, under a new id.
	again.RequestedBy = q.RequestedBy
	if id, err := m.PutQuarantine(ctx, again); err != nil || id != again.ID {
		t.Errorf("PutQuarantine after delete = %q, %v; want %q", id, err, again.ID)
	}
}

func must2(t *testing.T, m FirewallMeta, q store.Quarantine) {
	t.Helper()
	if _, err := m.PutQuarantine(t.Context(), q); err != nil {
		t.Fatalf("PutQuarantine: %v", err)
	}
}

func testFirewallWaivers(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	w := store.Waiver{Digest: dg("img"), By: "admin", Reason: "fp", CreatedAt: at(1), Expires: at(5)}
	must(t, m.PutWaiver(ctx, w), "put waiver")
	w.Reason, w.Expires = "forever", time.Time{}
	must(t, m.PutWaiver(ctx, w), "replace waiver")
	got, err := m.Waiver(ctx, w.Digest)
	if diff := cmp.Diff(got, w); err != nil || diff != "" {
		t.Errorf("Waiver: %v (-got +want):\n%s", err, diff)
	}
	must(t, m.DeleteWaiver(ctx, w.Digest), "delete waiver")
	if _, err := m.Waiver(ctx, w.Digest); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Waiver after delete = %v; want ErrNotFound", err)
	}
}

func testFirewallAudit(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	entries := []store.AuditEntry{
		{At: at(1), Actor: "firewall", Action: "judged", Repo: "hub/lib", Digest: dg("a"), Details: "result=allow"},
		{At: at(2), Actor: "admin", Action: "released", Repo: "hub/lib", Digest: dg("b"), Details: "reason=fp"},
		{At: at(3), Actor: "firewall", Action: "judged", Repo: "hub/other", Digest: dg("b")},
	}
	for _, e := range entries {
		must(t, m.AppendAudit(ctx, e), "append audit")
	}
	all, err := m.Audit(ctx, store.AuditFilter{}, 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("Audit = %d entries, %v; want 3", len(all), err)
	}
	for i := range all {
		entries[i].ID = all[i].ID
	}
	if diff := cmp.Diff(all, entries); diff != "" {
		t.Errorf("Audit (-got +want):\n%s", diff)
	}

	tests := []struct {
		name   string
		filter store.AuditFilter
		after  int64
		n      int
		want   []store.AuditEntry
	}{
		{"by digest", store.AuditFilter{Digest: dg("b")}, 0, 0, entries[1:]},
		{"by repo", store.AuditFilter{Repo: "hub/lib"}, 0, 0, entries[:2]},
		{"by action", store.AuditFilter{Action: "judged"}, 0, 0, []store.AuditEntry{entries[0], entries[2]}},
		{"after", store.AuditFilter{}, entries[0].ID, 1, entries[1:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Audit(ctx, tt.filter, tt.after, tt.n)
			if diff := cmp.Diff(got, tt.want); err != nil || diff != "" {
				t.Errorf("Audit: %v (-got +want):\n%s", err, diff)
			}
		})
	}
}

func testFirewallForget(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	mf := dg("manifest")
	shared, own := dg("shared"), dg("own")
	must(t, m.PutManifest(ctx, store.Manifest{Repo: "hub/lib", Digest: mf, MediaType: "m", CachedAt: at(1)}), "put manifest")
	must(t, m.PutBlob(ctx, "hub/lib", shared, 1), "put blob")
	must(t, m.PutBlob(ctx, "hub/lib", own, 1), "put blob")
	must(t, m.PutBlob(ctx, "hub/other", shared, 1), "put blob")

	tests := []struct {
		name   string
		forget func() (bool, error)
		want   bool
	}{
		{"blob another repository references", func() (bool, error) { return m.ForgetBlob(ctx, "hub/lib", shared) }, true},
		{"blob only this repository references", func() (bool, error) { return m.ForgetBlob(ctx, "hub/lib", own) }, false},
		{"manifest", func() (bool, error) { return m.ForgetManifest(ctx, "hub/lib", mf) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.forget()
			if err != nil || got != tt.want {
				t.Errorf("referenced = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if err := m.HasBlob(ctx, "hub/lib", own); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HasBlob after ForgetBlob = %v; want ErrNotFound", err)
	}
	if err := m.HasBlob(ctx, "hub/other", shared); err != nil {
		t.Errorf("HasBlob of another repository after ForgetBlob = %v; want nil", err)
	}
	if _, err := m.Manifest(ctx, "hub/lib", mf); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Manifest after ForgetManifest = %v; want ErrNotFound", err)
	}
}

func testFirewallReopen(t *testing.T, open func() FirewallMeta) {
	ctx := t.Context()
	m := open()
	if _, err := m.FirewallSince(ctx, at(1)); err != nil {
		t.Fatal(err)
	}
	must(t, m.AppendAudit(ctx, store.AuditEntry{At: at(2), Actor: "a", Action: "judged", Digest: dg("x")}), "append")
	must(t, m.PutWaiver(ctx, store.Waiver{Digest: dg("x"), CreatedAt: at(2)}), "put waiver")
	must(t, m.Close(), "close")

	m = openFirewall(t, open)
	if since, err := m.FirewallSince(ctx, at(9)); err != nil || !since.Equal(at(1)) {
		t.Errorf("FirewallSince after reopen = %v, %v; want %v", since, err, at(1))
	}
	if entries, err := m.Audit(ctx, store.AuditFilter{}, 0, 0); err != nil || len(entries) != 1 {
		t.Errorf("Audit after reopen = %d entries, %v; want 1", len(entries), err)
	}
	if _, err := m.Waiver(ctx, dg("x")); err != nil {
		t.Errorf("Waiver after reopen = %v; want it kept", err)
	}
}

// testFirewallConcurrent writes verdicts, audit entries and quarantine
// records from several goroutines at once, as concurrent first pulls do.
func testFirewallConcurrent(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers*iterations*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iterations {
				d := dg(fmt.Sprintf("image %d %d", w, i))
				v := store.Verdict{Repo: "hub/lib", Digest: d, Result: "allow", JudgedAt: at(i)}
				errs <- m.PutVerdict(ctx, v, []digest.Digest{dg("shared layer")})
				errs <- m.AppendAudit(ctx, store.AuditEntry{At: at(i), Actor: "firewall", Action: "judged", Repo: "hub/lib", Digest: d})
				_, err := m.PutQuarantine(ctx, store.Quarantine{ID: fmt.Sprintf("%06x%06x", w, i), Repo: "hub/lib", Digest: dg("one image"), RequestedAt: at(i)})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent write: %v", err)
		}
	}

	owners, err := m.BlobOwners(ctx, "hub/lib", dg("shared layer"), 0)
	if err != nil || len(owners) != workers*iterations {
		t.Errorf("BlobOwners = %d, %v; want %d", len(owners), err, workers*iterations)
	}
	entries, err := m.Audit(ctx, store.AuditFilter{}, 0, 0)
	if err != nil || len(entries) != workers*iterations {
		t.Errorf("Audit = %d entries, %v; want %d", len(entries), err, workers*iterations)
	}
	recs, err := m.Quarantines(ctx, store.QuarantineFilter{}, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Errorf("Quarantines = %d, %v; want 1 record for the one image", len(recs), err)
	}
}

// farPast and farFuture lie outside the years 1678 to 2262.
var (
	farPast   = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

func testFirewallAuditQueries(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	entries := []store.AuditEntry{
		{At: at(1), Actor: "alice", Action: "pull", Repo: "hub/lib", Digest: dg("a"), Client: "10.0.0.1", Result: "allow", Details: "tag=1"},
		{At: at(2), Actor: "bob", Action: "pull-denied", Repo: "hub/lib", Digest: dg("b"), Client: "10.0.0.2", Result: "quarantine"},
		{At: at(3), Actor: "firewall", Action: "judged", Repo: "hub/other", Digest: dg("b")},
		{At: at(4), Actor: "alice", Action: "pull", Repo: "hub/other", Digest: dg("b"), Client: "10.0.0.1", Result: "audit"},
	}
	must(t, m.AppendAudits(ctx, entries[:2]), "append a batch")
	must(t, m.AppendAudits(ctx, nil), "append an empty batch")
	must(t, m.AppendAudit(ctx, entries[2]), "append one")
	must(t, m.AppendAudits(ctx, entries[3:]), "append a batch of one")
	all, err := m.Audit(ctx, store.AuditFilter{}, 0, 0)
	if err != nil || len(all) != len(entries) {
		t.Fatalf("Audit = %d entries, %v; want %d", len(all), err, len(entries))
	}
	for i := range all {
		entries[i].ID = all[i].ID
	}
	if diff := cmp.Diff(all, entries); diff != "" {
		t.Errorf("Audit after batches, in order (-got +want):\n%s", diff)
	}
	e := entries
	tests := []struct {
		name   string
		filter store.AuditFilter
		after  int64
		n      int
		want   []store.AuditEntry
	}{
		{"by actor", store.AuditFilter{Actor: "alice"}, 0, 0, []store.AuditEntry{e[0], e[3]}},
		{"by client", store.AuditFilter{Client: "10.0.0.2"}, 0, 0, e[1:2]},
		{"since", store.AuditFilter{Since: at(3)}, 0, 0, e[2:]},
		{"until is exclusive", store.AuditFilter{Until: at(2)}, 0, 0, e[:1]},
		{"since and until", store.AuditFilter{Since: at(2), Until: at(4)}, 0, 0, e[1:3]},
		{"actor and action", store.AuditFilter{Actor: "alice", Action: "pull", Repo: "hub/other"}, 0, 0, e[3:]},
		{"newest first", store.AuditFilter{Newest: true}, 0, 2, []store.AuditEntry{e[3], e[2]}},
		{"newest first before", store.AuditFilter{Newest: true, Before: e[2].ID}, 0, 0, []store.AuditEntry{e[1], e[0]}},
		{"before oldest first", store.AuditFilter{Before: e[2].ID}, 0, 0, e[:2]},
		{"none", store.AuditFilter{Actor: "carol"}, 0, 0, nil},
		// Bounds far out, beyond what nanoseconds since 1970 hold, keep
		// their meaning rather than wrapping round.
		{"until far ahead", store.AuditFilter{Until: farFuture}, 0, 0, e},
		{"since long ago", store.AuditFilter{Since: farPast}, 0, 0, e},
		{"since far ahead", store.AuditFilter{Since: farFuture}, 0, 0, nil},
		{"until long ago", store.AuditFilter{Until: farPast}, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Audit(ctx, tt.filter, tt.after, tt.n)
			if diff := cmp.Diff(got, tt.want, equateEmpty); err != nil || diff != "" {
				t.Errorf("Audit: %v (-got +want):\n%s", err, diff)
			}
		})
	}
}

func testFirewallPullers(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	img := dg("img")
	pull := func(i int, actor, client, action string, repo string, d digest.Digest) store.AuditEntry {
		return store.AuditEntry{At: at(i), Actor: actor, Action: action, Repo: repo, Digest: d, Client: client}
	}
	must(t, m.AppendAudits(ctx, []store.AuditEntry{
		pull(1, "alice", "10.0.0.1", "pull", "hub/lib", img),
		pull(2, "alice", "10.0.0.1", "pull", "hub/lib", img),
		pull(3, "alice", "10.0.0.9", "pull-denied", "hub/lib", img),
		pull(4, "anonymous", "10.0.0.2", "pull", "hub/lib", img),
		pull(5, "bob", "10.0.0.3", "pull", "hub/other", img),   // another repository
		pull(6, "bob", "10.0.0.3", "pull", "hub/lib", dg("x")), // another image
		pull(7, "carol", "10.0.0.4", "judged", "hub/lib", img), // not a pull
		pull(8, "alice", "10.0.0.1", "pull-denied", "hub/lib", img),
	}), "append pulls")
	got, err := m.Pullers(ctx, "hub/lib", img)
	want := []store.PullSummary{
		{User: "alice", Client: "10.0.0.1", Count: 2, Denied: 1, Last: at(8)},
		{User: "anonymous", Client: "10.0.0.2", Count: 1, Last: at(4)},
		{User: "alice", Client: "10.0.0.9", Denied: 1, Last: at(3)},
	}
	if diff := cmp.Diff(got, want); err != nil || diff != "" {
		t.Errorf("Pullers: %v (-got +want):\n%s", err, diff)
	}
	if got, err := m.Pullers(ctx, "hub/lib", dg("never")); err != nil || len(got) != 0 {
		t.Errorf("Pullers of an image never pulled = %v, %v; want none", got, err)
	}
}

func testFirewallVerdictsWithVuln(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	a := store.Verdict{Repo: "hub/lib", Digest: dg("a"), Result: "quarantine", Evidence: []byte("{}"), JudgedAt: at(1),
		Vulns: []string{"CVE-2024-0001", "GHSA-aaaa-bbbb-cccc"}}
	b := store.Verdict{Repo: "hub/other", Digest: dg("b"), Result: "audit", JudgedAt: at(1), Vulns: []string{"CVE-2024-0001"}}
	c := store.Verdict{Repo: "hub/lib", Digest: dg("c"), Result: "allow", JudgedAt: at(1)}
	for _, v := range []store.Verdict{a, b, c} {
		must(t, m.PutVerdict(ctx, v, nil), "put verdict")
	}
	got, err := m.Verdict(ctx, a.Repo, a.Digest)
	if diff := cmp.Diff(got.Vulns, a.Vulns); err != nil || diff != "" {
		t.Errorf("Verdict's Vulns: %v (-got +want):\n%s", err, diff)
	}
	keys := func(vs []store.Verdict) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Repo+"@"+string(v.Digest))
		}
		return out
	}
	tests := []struct {
		id   string
		want []store.Verdict
	}{
		{"CVE-2024-0001", []store.Verdict{a, b}},
		{"cve-2024-0001", []store.Verdict{a, b}},
		{"ghsa-AAAA-bbbb-cccc", []store.Verdict{a}},
		{"CVE-2024-9999", nil},
	}
	for _, tt := range tests {
		vs, err := m.VerdictsWithVuln(ctx, tt.id)
		for _, v := range vs {
			if v.Evidence != nil {
				t.Errorf("VerdictsWithVuln(%s): %s has evidence; want none", tt.id, v.Repo)
			}
		}
		if diff := cmp.Diff(keys(vs), keys(tt.want), equateEmpty); err != nil || diff != "" {
			t.Errorf("VerdictsWithVuln(%s): %v (-got +want):\n%s", tt.id, err, diff)
		}
	}

	// UpdateVerdict replaces the ids, and DeleteVerdict drops them.
	a.Vulns = []string{"CVE-2024-0002"}
	must(t, m.UpdateVerdict(ctx, a), "update verdict")
	if vs, err := m.VerdictsWithVuln(ctx, "CVE-2024-0001"); err != nil || len(vs) != 1 || vs[0].Repo != b.Repo {
		t.Errorf("VerdictsWithVuln after update = %v, %v; want only %s", keys(vs), err, b.Repo)
	}
	must(t, m.DeleteVerdict(ctx, a.Repo, a.Digest), "delete verdict")
	must(t, m.PutVerdict(ctx, store.Verdict{Repo: a.Repo, Digest: a.Digest, Result: "allow", JudgedAt: at(2)}, nil), "put again")
	if vs, err := m.VerdictsWithVuln(ctx, "CVE-2024-0002"); err != nil || len(vs) != 0 {
		t.Errorf("VerdictsWithVuln after delete = %v, %v; want none", keys(vs), err)
	}
}

func testFirewallViolations(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	for i, v := range []store.Verdict{
		{Repo: "hub/a", Digest: dg("1"), Result: "allow"},
		{Repo: "hub/a", Digest: dg("2"), Result: "audit"},
		{Repo: "hub/a", Digest: dg("3"), Result: "audit"},
		{Repo: "hub/a", Digest: dg("4"), Result: "allow", Artifact: true},
		{Repo: "hub/b", Digest: dg("5"), Result: "quarantine"},
		{Repo: "hub/b", Digest: dg("6"), Result: "inspection-failed"},
	} {
		v.JudgedAt = at(i)
		must(t, m.PutVerdict(ctx, v, nil), "put verdict")
	}
	must(t, m.AppendAudits(ctx, []store.AuditEntry{
		{At: at(10), Actor: "firewall", Action: "violation", Repo: "hub/a"},
		{At: at(12), Actor: "firewall", Action: "violation", Repo: "hub/a"},
		{At: at(20), Actor: "firewall", Action: "judged", Repo: "hub/a"},
		{At: at(11), Actor: "firewall", Action: "quarantined", Repo: "hub/b"},
	}), "append audit")
	got, err := m.Violations(ctx)
	want := []store.RepoViolations{
		{Repo: "hub/a", Allow: 1, Audit: 2, LastViolation: at(12)},
		{Repo: "hub/b", Quarantine: 1, InspectionFailed: 1, LastViolation: at(11)},
	}
	if diff := cmp.Diff(got, want); err != nil || diff != "" {
		t.Errorf("Violations: %v (-got +want):\n%s", err, diff)
	}
}

func testFirewallQuarantineFilters(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	recs := []store.Quarantine{
		{ID: "000000000001", Repo: "hub/a", Digest: dg("1"), RequestedAt: at(1), RequestedBy: "alice", RequestedFrom: "10.0.0.1",
			Policies: []string{"malware"}, Severity: "critical", MaxScore: 0},
		{ID: "000000000002", Repo: "hub/b", Digest: dg("2"), RequestedAt: at(2), Policies: []string{"critical-fixable", "old"},
			Severity: "high", MaxScore: 8.1},
		{ID: "000000000003", Repo: "hub/a", Digest: dg("3"), RequestedAt: at(3), Policies: []string{"old"}, Severity: "medium", MaxScore: 5},
		{ID: "000000000004", Repo: "hub/c", Digest: dg("4"), RequestedAt: at(4), Policies: []string{"inspection-failed"}},
	}
	for _, q := range recs {
		must2(t, m, q)
	}
	got, err := m.Quarantine(ctx, recs[0].ID)
	if diff := cmp.Diff(got, recs[0]); err != nil || diff != "" {
		t.Errorf("Quarantine keeps requester and severity: %v (-got +want):\n%s", err, diff)
	}
	if _, err := m.PutQuarantine(ctx, store.Quarantine{ID: "000000000009", Repo: "hub/z", Digest: dg("9"), Severity: "dreadful"}); err == nil {
		t.Errorf("PutQuarantine with an unknown severity = nil; want an error")
	}

	tests := []struct {
		name   string
		filter store.QuarantineFilter
		offset int
		n      int
		want   []string
	}{
		{"policy", store.QuarantineFilter{Policy: "old"}, 0, 0, []string{"000000000003", "000000000002"}},
		{"policy is a whole name", store.QuarantineFilter{Policy: "ol"}, 0, 0, nil},
		{"min severity high", store.QuarantineFilter{MinSeverity: "high"}, 0, 0, []string{"000000000002", "000000000001"}},
		{"min severity low", store.QuarantineFilter{MinSeverity: "LOW"}, 0, 0, []string{"000000000003", "000000000002", "000000000001"}},
		{"min severity none", store.QuarantineFilter{MinSeverity: "none"}, 0, 0, []string{"000000000004", "000000000003", "000000000002", "000000000001"}},
		{"since until", store.QuarantineFilter{Since: at(2), Until: at(4)}, 0, 0, []string{"000000000003", "000000000002"}},
		{"oldest", store.QuarantineFilter{Sort: store.SortOldest}, 0, 2, []string{"000000000001", "000000000002"}},
		{"score", store.QuarantineFilter{Sort: store.SortScore}, 0, 0, []string{"000000000002", "000000000003", "000000000004", "000000000001"}},
		{"repo", store.QuarantineFilter{Sort: store.SortRepo}, 0, 0, []string{"000000000003", "000000000001", "000000000002", "000000000004"}},
		{"repo and policy page", store.QuarantineFilter{Repo: "hub/a", Policy: "old", Sort: store.SortNewest}, 0, 1, []string{"000000000003"}},
		{"offset", store.QuarantineFilter{Sort: store.SortScore}, 1, 2, []string{"000000000003", "000000000004"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Quarantines(ctx, tt.filter, tt.offset, tt.n)
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(ids, tt.want, equateEmpty); err != nil || diff != "" {
				t.Errorf("Quarantines: %v (-got +want):\n%s", err, diff)
			}
			if tt.offset == 0 && tt.n == 0 {
				if n, err := m.CountQuarantines(ctx, tt.filter); err != nil || n != len(tt.want) {
					t.Errorf("CountQuarantines = %d, %v; want %d", n, err, len(tt.want))
				}
			}
		})
	}
	for _, bad := range []store.QuarantineFilter{
		{MinSeverity: "dreadful"},
		{Sort: "size"},
		{Since: at(5), Until: at(1)},
	} {
		if _, err := m.Quarantines(ctx, bad, 0, 0); !errors.Is(err, store.ErrInvalidFilter) {
			t.Errorf("Quarantines(%+v) = %v; want ErrInvalidFilter", bad, err)
		}
		if _, err := m.CountQuarantines(ctx, bad); !errors.Is(err, store.ErrInvalidFilter) {
			t.Errorf("CountQuarantines(%+v) = %v; want ErrInvalidFilter", bad, err)
		}
	}
}

func testFirewallPolicies(t *testing.T, m FirewallMeta) {
	ctx := t.Context()
	if _, err := m.Policies(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Policies before any = %v; want ErrNotFound", err)
	}
	must(t, m.DeletePolicies(ctx), "delete missing policies")
	must(t, m.PutPolicies(ctx, []byte(`[{"name":"one"}]`)), "put policies")
	must(t, m.PutPolicies(ctx, []byte(`[{"name":"two"}]`)), "replace policies")
	if got, err := m.Policies(ctx); err != nil || string(got) != `[{"name":"two"}]` {
		t.Errorf("Policies = %s, %v; want the second", got, err)
	}
	must(t, m.DeletePolicies(ctx), "delete policies")
	if _, err := m.Policies(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Policies after delete = %v; want ErrNotFound", err)
	}
}
