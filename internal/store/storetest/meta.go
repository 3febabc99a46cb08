package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// TestMeta runs the conformance suite for a store.Meta backend.
func TestMeta(t *testing.T, backend MetaBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, m store.Meta)
	}{
		{"Missing", testMetaMissing},
		{"PutTag", testMetaPutTag},
		{"Tags", testMetaTags},
		{"Repositories", testMetaRepositories},
		{"Manifest", testMetaManifest},
		{"Referrers", testMetaReferrers},
		{"Blobs", testMetaBlobs},
		{"Touch", testMetaTouch},
		{"Concurrent", testMetaConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, openMeta(t, backend(t))) })
	}
	t.Run("Reopen", func(t *testing.T) { testMetaReopen(t, backend(t)) })
}

// openMeta opens a Meta that is closed when the test ends.
func openMeta(t *testing.T, open func() store.Meta) store.Meta {
	t.Helper()
	m := open()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m
}

// equateEmpty lets a backend return nil or an empty slice for no results.
var equateEmpty = cmpopts.EquateEmpty()

func testMetaMissing(t *testing.T, m store.Meta) {
	ctx := t.Context()
	must(t, m.PutTag(ctx, store.Tag{Repo: "hub/known", Name: "v1", Digest: dg("a"), CheckedAt: at(0)}), "put tag")

	tests := []struct {
		name string
		call func() error
	}{
		{"Tag unknown repo", func() error { _, err := m.Tag(ctx, "hub/unknown", "v1"); return err }},
		{"Tag unknown tag", func() error { _, err := m.Tag(ctx, "hub/known", "v2"); return err }},
		{"TagHistory unknown tag", func() error { _, err := m.TagHistory(ctx, "hub/known", "v2"); return err }},
		{"Tags unknown repo", func() error { _, err := m.Tags(ctx, "hub/unknown", "", 0); return err }},
		{"Manifest", func() error { _, err := m.Manifest(ctx, "hub/known", dg("a")); return err }},
		{"HasBlob", func() error { return m.HasBlob(ctx, "hub/known", dg("a")) }},
		{"LastAccess", func() error { _, err := m.LastAccess(ctx, dg("a")); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("got %v; want ErrNotFound", err)
			}
		})
	}
}

// testMetaPutTag plays sequences of checks of one tag and compares the
// recorded tag and history.
func testMetaPutTag(t *testing.T, m store.Meta) {
	a, b := dg("a"), dg("b")
	type check struct {
		d digest.Digest
		i int // seconds after t0
	}
	tests := []struct {
		name   string
		checks []check
		want   []store.TagEvent
	}{
		{"first", []check{{a, 0}}, []store.TagEvent{ev(a, 0)}},
		{"unchanged moves CheckedAt", []check{{a, 0}, {a, 5}}, []store.TagEvent{ev(a, 0)}},
		{"changed appends", []check{{a, 0}, {b, 5}}, []store.TagEvent{ev(a, 0), ev(b, 5)}},
		{"back to an old digest appends", []check{{a, 0}, {b, 5}, {a, 9}}, []store.TagEvent{ev(a, 0), ev(b, 5), ev(a, 9)}},
		{"unchanged after a change", []check{{a, 0}, {b, 5}, {b, 7}, {b, 8}}, []store.TagEvent{ev(a, 0), ev(b, 5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			var want store.Tag
			for _, c := range tt.checks {
				// Every case uses the same tag name in its own repository,
				// so a backend mixing up repositories fails.
				want = store.Tag{Repo: "hub/" + tt.name, Name: "latest", Digest: c.d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 1000, CheckedAt: at(c.i)}
				must(t, m.PutTag(ctx, want), "put tag")
			}

			got, err := m.Tag(ctx, want.Repo, want.Name)
			if err != nil {
				t.Fatalf("Tag: %v", err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Tag (-got +want):\n%s", diff)
			}
			hist, err := m.TagHistory(ctx, want.Repo, want.Name)
			if err != nil {
				t.Fatalf("TagHistory: %v", err)
			}
			if diff := cmp.Diff(hist, tt.want); diff != "" {
				t.Errorf("TagHistory (-got +want):\n%s", diff)
			}
		})
	}
}

// ev returns a history event seen i seconds after t0.
func ev(d digest.Digest, i int) store.TagEvent { return store.TagEvent{Digest: d, SeenAt: at(i)} }

// Names whose byte order differs from a linguistic collation's, so a
// backend sorting with a locale fails.
var (
	tagNames  = []string{"latest", "a", "_b", "A", "2", "10", "1.0"}
	repoNames = []string{"a/b/c", "a/b", "a.b/c", "a-b/c", "hub/lib"}
)

func testMetaTags(t *testing.T, m store.Meta) {
	ctx := t.Context()
	for _, name := range tagNames {
		must(t, m.PutTag(ctx, store.Tag{Repo: "hub/lib", Name: name, Digest: dg(name), CheckedAt: at(0)}), "put tag")
	}
	must(t, m.PutTag(ctx, store.Tag{Repo: "hub/lib2", Name: "other", Digest: dg("x"), CheckedAt: at(0)}), "put tag")
	must(t, m.PutBlob(ctx, "hub/untagged", dg("x"), 1), "put blob")

	all := []string{"1.0", "10", "2", "A", "_b", "a", "latest"}
	tests := []struct {
		name string
		repo string
		last string
		n    int
		want []string
	}{
		{"all", "hub/lib", "", 0, all},
		{"negative n is all", "hub/lib", "", -1, all},
		{"first page", "hub/lib", "", 3, all[:3]},
		{"n beyond the end", "hub/lib", "", 100, all},
		{"after last", "hub/lib", "2", 0, all[3:]},
		{"page after last", "hub/lib", "2", 2, all[3:5]},
		{"last not a tag", "hub/lib", "11", 0, all[2:]},
		{"last is the last", "hub/lib", "latest", 0, nil},
		{"last past the end", "hub/lib", "zzz", 5, nil},
		{"other repository", "hub/lib2", "", 0, []string{"other"}},
		{"repository without tags", "hub/untagged", "", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Tags(ctx, tt.repo, tt.last, tt.n)
			if err != nil {
				t.Fatalf("Tags(%q, %q, %d): %v", tt.repo, tt.last, tt.n, err)
			}
			if diff := cmp.Diff(got, tt.want, equateEmpty); diff != "" {
				t.Errorf("Tags(%q, %q, %d) (-got +want):\n%s", tt.repo, tt.last, tt.n, diff)
			}
		})
	}
}

func testMetaRepositories(t *testing.T, m store.Meta) {
	ctx := t.Context()
	got, err := m.Repositories(ctx, "", 0)
	if err != nil || len(got) != 0 {
		t.Errorf("Repositories of an empty store = %q, %v; want none", got, err)
	}

	// Each way of making a repository known, twice for the first so that
	// a repository is listed once however often it is written.
	for i, repo := range repoNames {
		switch i % 3 {
		case 0:
			must(t, m.PutTag(ctx, store.Tag{Repo: repo, Name: "v1", Digest: dg(repo), CheckedAt: at(i)}), "put tag")
			must(t, m.PutTag(ctx, store.Tag{Repo: repo, Name: "v2", Digest: dg(repo), CheckedAt: at(i)}), "put tag")
		case 1:
			must(t, m.PutManifest(ctx, store.Manifest{Repo: repo, Digest: dg(repo), CachedAt: at(i)}), "put manifest")
		case 2:
			must(t, m.PutBlob(ctx, repo, dg(repo), 1), "put blob")
		}
	}

	all := []string{"a-b/c", "a.b/c", "a/b", "a/b/c", "hub/lib"}
	tests := []struct {
		name string
		last string
		n    int
		want []string
	}{
		{"all", "", 0, all},
		{"negative n is all", "", -1, all},
		{"first page", "", 2, all[:2]},
		{"after last", "a.b/c", 0, all[2:]},
		{"page after last", "a.b/c", 2, all[2:4]},
		{"last not a repository", "a/a", 0, all[2:]},
		{"last past the end", "zzz", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Repositories(ctx, tt.last, tt.n)
			if err != nil {
				t.Fatalf("Repositories(%q, %d): %v", tt.last, tt.n, err)
			}
			if diff := cmp.Diff(got, tt.want, equateEmpty); diff != "" {
				t.Errorf("Repositories(%q, %d) (-got +want):\n%s", tt.last, tt.n, diff)
			}
		})
	}
}

func testMetaManifest(t *testing.T, m store.Meta) {
	ctx := t.Context()
	first := store.Manifest{
		Repo:         "hub/lib",
		Digest:       dg("signature"),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		Size:         1234,
		Subject:      dg("image"),
		ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json",
		CachedAt:     at(1),
	}
	plain := store.Manifest{Repo: "hub/lib", Digest: dg("plain"), MediaType: "application/vnd.docker.distribution.manifest.v2+json", Size: 527, CachedAt: at(2)}
	replaced := first
	replaced.CachedAt = at(3)
	replaced.Size = 4321

	tests := []struct {
		name string
		put  []store.Manifest
		repo string
		d    digest.Digest
		want store.Manifest
	}{
		{"with subject", []store.Manifest{first}, "hub/lib", first.Digest, first},
		{"without subject", []store.Manifest{plain}, "hub/lib", plain.Digest, plain},
		{"put again replaces", []store.Manifest{replaced}, "hub/lib", first.Digest, replaced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mf := range tt.put {
				must(t, m.PutManifest(ctx, mf), "put manifest")
			}
			got, err := m.Manifest(ctx, tt.repo, tt.d)
			if err != nil {
				t.Fatalf("Manifest(%q, %s): %v", tt.repo, tt.d, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Manifest(%q, %s) (-got +want):\n%s", tt.repo, tt.d, diff)
			}
		})
	}

	t.Run("per repository", func(t *testing.T) {
		if _, err := m.Manifest(ctx, "hub/lib2", first.Digest); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Manifest in another repository = %v; want ErrNotFound", err)
		}
	})
}

func testMetaReferrers(t *testing.T, m store.Meta) {
	ctx := t.Context()
	subject, other := dg("image"), dg("other image")
	mk := func(repo, name string, subject digest.Digest) store.Manifest {
		return store.Manifest{Repo: repo, Digest: dg(name), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 100, Subject: subject, ArtifactType: "application/" + name, CachedAt: at(len(name))}
	}
	sig, sbom := mk("hub/lib", "sig", subject), mk("hub/lib", "sbom", subject)
	for _, mf := range []store.Manifest{
		sig, sbom,
		mk("hub/lib", "sig of other", other),
		mk("hub/lib", "image", ""),
		mk("hub/lib2", "sig elsewhere", subject),
	} {
		must(t, m.PutManifest(ctx, mf), "put manifest")
	}

	want := []store.Manifest{sig, sbom}
	slices.SortFunc(want, func(a, b store.Manifest) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	tests := []struct {
		name string
		repo string
		d    digest.Digest
		want []store.Manifest
	}{
		{"two referrers", "hub/lib", subject, want},
		{"one referrer", "hub/lib", other, []store.Manifest{mk("hub/lib", "sig of other", other)}},
		{"none", "hub/lib", dg("unreferenced"), nil},
		{"unknown repository", "hub/none", subject, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Referrers(ctx, tt.repo, tt.d)
			if err != nil {
				t.Fatalf("Referrers(%q, %s): %v", tt.repo, tt.d, err)
			}
			if diff := cmp.Diff(got, tt.want, equateEmpty); diff != "" {
				t.Errorf("Referrers(%q, %s) (-got +want):\n%s", tt.repo, tt.d, diff)
			}
		})
	}
}

func testMetaBlobs(t *testing.T, m store.Meta) {
	ctx := t.Context()
	d := dg("layer")
	must(t, m.PutBlob(ctx, "hub/lib", d, 10), "put blob")
	must(t, m.PutBlob(ctx, "hub/lib", d, 10), "put blob again")

	tests := []struct {
		repo string
		d    digest.Digest
		want error
	}{
		{"hub/lib", d, nil},
		{"hub/lib2", d, store.ErrNotFound},
		{"hub/lib", dg("other layer"), store.ErrNotFound},
	}
	for _, tt := range tests {
		if err := m.HasBlob(ctx, tt.repo, tt.d); !errors.Is(err, tt.want) {
			t.Errorf("HasBlob(%q, %s) = %v; want %v", tt.repo, tt.d, err, tt.want)
		}
	}
}

func testMetaTouch(t *testing.T, m store.Meta) {
	ctx := t.Context()
	d := dg("layer")
	tests := []struct {
		name  string
		touch time.Time
		want  time.Time
	}{
		{"first", at(10), at(10)},
		{"later moves it", at(20), at(20)},
		{"earlier does not", at(15), at(20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			must(t, m.Touch(ctx, d, tt.touch), "touch")
			got, err := m.LastAccess(ctx, d)
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("LastAccess = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
	if _, err := m.LastAccess(ctx, dg("other")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastAccess of an untouched digest = %v; want ErrNotFound", err)
	}
}

// testMetaConcurrent has workers write and read at once: each its own tag,
// all of them one shared tag, blobs and access times. Each worker's own tag
// changes digest every second check, so its history length is known.
func testMetaConcurrent(t *testing.T, m store.Meta) {
	ctx := t.Context()
	const repo = "hub/busy"
	step := func(w, i int) error {
		own := store.Tag{Repo: repo, Name: fmt.Sprint("w", w), Digest: dg(fmt.Sprint(w, "/", i/2)), CheckedAt: at(i)}
		if err := m.PutTag(ctx, own); err != nil {
			return err
		}
		if err := m.PutTag(ctx, store.Tag{Repo: repo, Name: "shared", Digest: dg(fmt.Sprint(i)), CheckedAt: at(i)}); err != nil {
			return err
		}
		got, err := m.Tag(ctx, repo, own.Name)
		if err != nil {
			return err
		}
		if got.Digest != own.Digest {
			return fmt.Errorf("Tag after PutTag = %s; want %s", got.Digest, own.Digest)
		}
		blob := dg(fmt.Sprint("blob ", w, "/", i))
		if err := m.PutBlob(ctx, repo, blob, int64(i)); err != nil {
			return err
		}
		if err := m.HasBlob(ctx, repo, blob); err != nil {
			return err
		}
		if err := m.PutManifest(ctx, store.Manifest{Repo: repo, Digest: own.Digest, Subject: dg("shared subject"), CachedAt: at(i)}); err != nil {
			return err
		}
		return m.Touch(ctx, dg(fmt.Sprint(i)), at(i))
	}

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range iterations {
				if err := step(w, i); err != nil {
					t.Errorf("worker %d, step %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()

	for w := range workers {
		hist, err := m.TagHistory(ctx, repo, fmt.Sprint("w", w))
		if err != nil || len(hist) != iterations/2 {
			t.Errorf("TagHistory of worker %d = %d events, %v; want %d", w, len(hist), err, iterations/2)
		}
	}
	tags, err := m.Tags(ctx, repo, "", 0)
	if err != nil || len(tags) != workers+1 {
		t.Errorf("Tags = %q, %v; want %d", tags, err, workers+1)
	}
	refs, err := m.Referrers(ctx, repo, dg("shared subject"))
	if err != nil || len(refs) != workers*iterations/2 {
		t.Errorf("Referrers = %d, %v; want %d", len(refs), err, workers*iterations/2)
	}
	for i := range iterations {
		got, err := m.LastAccess(ctx, dg(fmt.Sprint(i)))
		if err != nil || !got.Equal(at(i)) {
			t.Errorf("LastAccess of %d = %v, %v; want %v", i, got, err, at(i))
		}
	}
}

// testMetaReopen writes one of everything, closes the store and checks a
// new instance over the same storage reads it all back.
func testMetaReopen(t *testing.T, open func() store.Meta) {
	ctx := t.Context()
	tag := store.Tag{Repo: "hub/lib", Name: "latest", Digest: dg("b"), MediaType: "application/vnd.oci.image.index.v1+json", Size: 42, CheckedAt: at(2)}
	mf := store.Manifest{Repo: "hub/lib", Digest: dg("sig"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 7, Subject: dg("b"), ArtifactType: "application/sig", CachedAt: at(3)}
	blob := dg("layer")

	m := open()
	must(t, m.PutTag(ctx, store.Tag{Repo: tag.Repo, Name: tag.Name, Digest: dg("a"), CheckedAt: at(1)}), "put tag")
	must(t, m.PutTag(ctx, tag), "put tag")
	must(t, m.PutManifest(ctx, mf), "put manifest")
	must(t, m.PutBlob(ctx, "hub/lib", blob, 5), "put blob")
	must(t, m.Touch(ctx, blob, at(4)), "touch")
	must(t, m.Close(), "close")

	m = openMeta(t, open)
	gotTag, err := m.Tag(ctx, tag.Repo, tag.Name)
	if diff := cmp.Diff(gotTag, tag); err != nil || diff != "" {
		t.Errorf("Tag after reopen: %v (-got +want):\n%s", err, diff)
	}
	hist, err := m.TagHistory(ctx, tag.Repo, tag.Name)
	wantHist := []store.TagEvent{ev(dg("a"), 1), ev(dg("b"), 2)}
	if diff := cmp.Diff(hist, wantHist); err != nil || diff != "" {
		t.Errorf("TagHistory after reopen: %v (-got +want):\n%s", err, diff)
	}
	gotMf, err := m.Manifest(ctx, mf.Repo, mf.Digest)
	if diff := cmp.Diff(gotMf, mf); err != nil || diff != "" {
		t.Errorf("Manifest after reopen: %v (-got +want):\n%s", err, diff)
	}
	if err := m.HasBlob(ctx, "hub/lib", blob); err != nil {
		t.Errorf("HasBlob after reopen = %v; want nil", err)
	}
	if got, err := m.LastAccess(ctx, blob); err != nil || !got.Equal(at(4)) {
		t.Errorf("LastAccess after reopen = %v, %v; want %v", got, err, at(4))
	}
	if got, err := m.Repositories(ctx, "", 0); err != nil || !slices.Equal(got, []string{"hub/lib"}) {
		t.Errorf("Repositories after reopen = %q, %v; want [hub/lib]", got, err)
	}
}
