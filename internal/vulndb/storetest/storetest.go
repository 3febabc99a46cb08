// Package storetest is the conformance suite every vulndb.Store backend
// passes: a backend's test calls Run with a function that opens an empty
// store. It checks the contract matching relies on: the package index with
// normalised names, lookups by id across sources, known-bad digests,
// source bookkeeping, and that Replace swaps a source whole.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/vulndb"
)

// Run runs the suite; open returns an empty store, closed by the suite.
func Run(t *testing.T, open func(t *testing.T) vulndb.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s vulndb.Store)
	}{
		{"Affecting", testAffecting},
		{"ByID", testByID},
		{"BadFiles", testBadFiles},
		{"Sources", testSources},
		{"ReplaceSwapsWhole", testReplaceSwapsWhole},
		{"PutMerges", testPutMerges},
		{"AbortKeepsOld", testAbortKeepsOld},
		{"ReadersDuringReplace", testReadersDuringReplace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// rec is a record affecting one package of eco.
func rec(id, eco, name string) vulndb.Record {
	return vulndb.Record{ID: id, Affected: []vulndb.Affected{{
		Ecosystem: eco,
		Name:      name,
		Ranges:    []vulndb.Range{{Type: "ECOSYSTEM", Events: []vulndb.Event{{Introduced: "0"}, {Fixed: "1.0"}}}},
	}}}
}

func replace(t *testing.T, s vulndb.Store, source string, recs []vulndb.Record, files []vulndb.BadFile) {
	t.Helper()
	src := vulndb.Source{Name: source, ImportedAt: time.Unix(1700000000, 0).UTC(), Counts: map[string]int{"x": len(recs)}}
	replaceAs(t, s, src, recs, files)
}

// replaceAs replaces src.Name's contents and records src.
func replaceAs(t *testing.T, s vulndb.Store, src vulndb.Source, recs []vulndb.Record, files []vulndb.BadFile) {
	t.Helper()
	w, err := s.Replace(context.Background(), src.Name)
	if err != nil {
		t.Fatalf("replace %s: %v", src.Name, err)
	}
	defer w.Abort()
	for _, r := range recs {
		if err := w.Put(r); err != nil {
			t.Fatalf("put %s: %v", r.ID, err)
		}
	}
	for _, f := range files {
		if err := w.PutBadFile(f); err != nil {
			t.Fatalf("put %s: %v", f.Digest, err)
		}
	}
	if err := w.Commit(src); err != nil {
		t.Fatalf("commit %s: %v", src.Name, err)
	}
}

func ids(recs []vulndb.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID)
	}
	sort.Strings(out)
	return out
}

func testAffecting(t *testing.T, s vulndb.Store) {
	full := rec("CVE-1", "Debian:12", "glibc")
	full.Aliases = []string{"DSA-1"}
	full.Severity = []vulndb.Severity{{Type: "CVSS_V3", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}
	full.Affected = append(full.Affected, vulndb.Affected{Ecosystem: "Debian", Name: "glibc", Status: "open", Urgency: "low"})
	replace(t, s, "a", []vulndb.Record{
		full,
		rec("CVE-2", "Debian:11", "glibc"),
		rec("GHSA-1", "PyPI", "PyYAML"),
		rec("GHSA-2", "npm", "Axios"),
	}, nil)
	replace(t, s, "b", []vulndb.Record{rec("CVE-3", "Debian", "glibc")}, nil)

	tests := []struct {
		ecosystems []string
		name       string
		want       []string
	}{
		{[]string{"Debian:12", "Debian"}, "glibc", []string{"CVE-1", "CVE-3"}},
		{[]string{"Debian:11"}, "glibc", []string{"CVE-2"}},
		{[]string{"Debian:13"}, "glibc", []string{}},
		{[]string{"PyPI"}, "pyyaml", []string{"GHSA-1"}},
		{[]string{"npm"}, "axios", []string{"GHSA-2"}},
		{nil, "glibc", []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ecosystems, tt.name), func(t *testing.T) {
			got, err := s.Affecting(context.Background(), tt.ecosystems, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(got), tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}

	// Records come back whole.
	got, err := s.Affecting(context.Background(), []string{"Debian:12"}, "glibc")
	if err != nil || len(got) != 1 {
		t.Fatalf("Affecting = %v, %v; want CVE-1", got, err)
	}
	if diff := cmp.Diff(got[0], full); diff != "" {
		t.Errorf("record (-got +want):\n%s", diff)
	}
}

func testByID(t *testing.T, s vulndb.Store) {
	replace(t, s, "tracker", []vulndb.Record{rec("CVE-1", "Debian:12", "glibc"), rec("CVE-2", "Debian:12", "zlib")}, nil)
	nvd := vulndb.Record{ID: "CVE-1", Severity: []vulndb.Severity{{Type: "CVSS_V3", Score: 7.5}}}
	replace(t, s, "nvd", []vulndb.Record{nvd}, nil)

	got, err := s.ByID(context.Background(), []string{"CVE-1", "CVE-9"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(got), []string{"CVE-1", "CVE-1"}); diff != "" {
		t.Errorf("ByID: one record per source (-got +want):\n%s", diff)
	}
	if got, err := s.ByID(context.Background(), nil); err != nil || len(got) != 0 {
		t.Errorf("ByID(nil) = %v, %v; want nothing", got, err)
	}
}

func testBadFiles(t *testing.T, s vulndb.Store) {
	replace(t, s, "list", nil, []vulndb.BadFile{{Digest: "sha256:aa", Reason: "miner"}, {Digest: "sha256:bb", Reason: "dropper"}})
	got, err := s.BadFiles(context.Background(), []string{"sha256:bb", "sha256:cc"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []vulndb.BadFile{{Digest: "sha256:bb", Reason: "dropper"}}); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func testSources(t *testing.T, s vulndb.Store) {
	replace(t, s, "b", []vulndb.Record{rec("X-1", "npm", "a")}, nil)
	replace(t, s, "a", nil, nil)
	at := time.Unix(1700000000, 0).UTC()
	modified := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c := vulndb.Source{Name: "c", ImportedAt: at, Modified: modified, Counts: map[string]int{"npm": 2}, Unknown: 3}
	replaceAs(t, s, c, nil, nil)
	got, err := s.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []vulndb.Source{
		{Name: "a", ImportedAt: at, Counts: map[string]int{"x": 0}},
		{Name: "b", ImportedAt: at, Counts: map[string]int{"x": 1}},
		c,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func testReplaceSwapsWhole(t *testing.T, s vulndb.Store) {
	replace(t, s, "a", []vulndb.Record{rec("X-1", "npm", "left-pad"), rec("X-2", "npm", "left-pad")},
		[]vulndb.BadFile{{Digest: "sha256:aa", Reason: "old"}})
	replace(t, s, "other", []vulndb.Record{rec("Y-1", "npm", "left-pad")}, nil)
	replace(t, s, "a", []vulndb.Record{rec("X-3", "npm", "left-pad")}, nil)

	got, err := s.Affecting(context.Background(), []string{"npm"}, "left-pad")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(got), []string{"X-3", "Y-1"}); diff != "" {
		t.Errorf("after replace (-got +want):\n%s", diff)
	}
	files, err := s.BadFiles(context.Background(), []string{"sha256:aa"})
	if err != nil || len(files) != 0 {
		t.Errorf("bad files after replace = %v, %v; want none", files, err)
	}
}

// testReadersDuringReplace reads while a source is replaced over and
// over: every read sees one whole generation of the source.
func testReadersDuringReplace(t *testing.T, s vulndb.Store) {
	const (
		generations = 10
		size        = 50
	)
	gen := func(g int) []vulndb.Record {
		recs := make([]vulndb.Record, size)
		for i := range recs {
			recs[i] = rec(fmt.Sprintf("G%d-%03d", g, i), "npm", "pkg")
		}
		return recs
	}
	replace(t, s, "a", gen(0), nil)

	var wg sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				got, err := s.Affecting(context.Background(), []string{"npm"}, "pkg")
				if err != nil {
					t.Errorf("read during replace: %v", err)
					return
				}
				if len(got) != size || generation(got[0]) != generation(got[size-1]) {
					t.Errorf("read %d records from %s to %s, want %d of one generation", len(got), got[0].ID, got[len(got)-1].ID, size)
					return
				}
			}
		}()
	}
	for g := 1; g <= generations; g++ {
		replace(t, s, "a", gen(g), nil)
	}
	close(done)
	wg.Wait()
}

// generation is the "G3" of "G3-017".
func generation(r vulndb.Record) string {
	g, _, _ := strings.Cut(r.ID, "-")
	return g
}

// testPutMerges puts one id twice, as Alpine's files do for a CVE that
// touches two packages.
func testPutMerges(t *testing.T, s vulndb.Store) {
	first := rec("CVE-1", "Alpine:v3.20", "musl")
	first.Aliases = []string{"GHSA-1"}
	second := rec("CVE-1", "Alpine:v3.20", "busybox")
	second.Aliases = []string{"GHSA-1", "ALPINE-1"}
	second.Severity = []vulndb.Severity{{Type: "CVSS_V3", Score: 5}}
	replace(t, s, "a", []vulndb.Record{first, second}, nil)

	for _, pkg := range []string{"musl", "busybox"} {
		got, err := s.Affecting(context.Background(), []string{"Alpine:v3.20"}, pkg)
		if err != nil || len(got) != 1 {
			t.Fatalf("Affecting %s = %v, %v; want CVE-1", pkg, got, err)
		}
	}
	got, err := s.ByID(context.Background(), []string{"CVE-1"})
	if err != nil || len(got) != 1 {
		t.Fatalf("ByID = %v, %v; want one merged record", got, err)
	}
	want := first
	want.Merge(second)
	if diff := cmp.Diff(got[0], want); diff != "" {
		t.Errorf("merged record (-got +want):\n%s", diff)
	}
}

// testAbortKeepsOld drops a replacement: readers never saw it, and the
// old contents stay.
func testAbortKeepsOld(t *testing.T, s vulndb.Store) {
	ctx := context.Background()
	replace(t, s, "a", []vulndb.Record{rec("OLD-1", "npm", "pkg")}, nil)
	w, err := s.Replace(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put(rec("NEW-1", "npm", "pkg")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	got, err := s.Affecting(ctx, []string{"npm"}, "pkg")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(got), []string{"OLD-1"}); diff != "" {
		t.Errorf("after abort (-got +want):\n%s", diff)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}
