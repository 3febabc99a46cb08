package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/store"
)

// StatsBackend is MetaBackend for a store.Stats. The suite closes every
// instance it opens, and closes one before opening the next over the same
// storage.
type StatsBackend func(t *testing.T) (open func() StatsMeta)

// StatsMeta is a store.Stats that can be closed.
type StatsMeta interface {
	store.Stats
	Close() error
}

// TestStats runs the conformance suite for a store.Stats backend.
func TestStats(t *testing.T, backend StatsBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s StatsMeta)
	}{
		{"Empty", testStatsEmpty},
		{"AddsUp", testStatsAddsUp},
		{"Range", testStatsRange},
		{"Refused", testStatsRefused},
		{"Concurrent", testStatsConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := backend(t)()
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
	t.Run("Reopen", func(t *testing.T) { testStatsReopen(t, backend(t)) })
}

// hour0 is the start of t0's hour in UTC, the suite's first bucket.
var hour0 = t0.UTC().Truncate(time.Hour)

func testStatsEmpty(t *testing.T, s StatsMeta) {
	got, err := s.Stats(t.Context(), hour0.Add(-24*time.Hour), hour0.Add(24*time.Hour))
	if err != nil || len(got) != 0 {
		t.Fatalf("Stats of an empty store = %v, %v; want none", got, err)
	}
	if err := s.AddStats(t.Context(), nil); err != nil {
		t.Fatalf("AddStats(nil) = %v", err)
	}
}

func testStatsAddsUp(t *testing.T, s StatsMeta) {
	ctx := t.Context()
	// Times within one hour, in another zone, land in the same bucket.
	must(t, s.AddStats(ctx, []store.StatsDelta{
		{Hour: t0, Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 1, CacheHits: 2, BytesFromCache: 100}},
		{Hour: t0.Add(10 * time.Minute), Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 2, CacheMisses: 1, BytesFromUpstream: 50}},
		{Hour: t0, Upstream: "ghcr.io", StatsCounts: store.StatsCounts{Violations: 1, Quarantines: 1}},
	}), "AddStats")
	must(t, s.AddStats(ctx, []store.StatsDelta{
		{Hour: t0.Add(time.Hour), Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 7}},
		{Hour: t0, Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 1, Violations: 3, Quarantines: 2}},
	}), "AddStats again")

	got, err := s.Stats(ctx, hour0, hour0.Add(2*time.Hour))
	must(t, err, "Stats")
	want := []store.StatsBucket{
		{Hour: hour0, Upstream: "docker.io", StatsCounts: store.StatsCounts{
			Pulls: 4, CacheHits: 2, CacheMisses: 1, BytesFromCache: 100, BytesFromUpstream: 50, Violations: 3, Quarantines: 2}},
		{Hour: hour0, Upstream: "ghcr.io", StatsCounts: store.StatsCounts{Violations: 1, Quarantines: 1}},
		{Hour: hour0.Add(time.Hour), Upstream: "docker.io", StatsCounts: store.StatsCounts{Pulls: 7}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	for _, b := range got {
		if b.Hour.Location() != time.UTC {
			t.Errorf("bucket hour %v is not in UTC", b.Hour)
		}
	}
}

func testStatsRange(t *testing.T, s StatsMeta) {
	ctx := t.Context()
	var deltas []store.StatsDelta
	for i := range 5 {
		deltas = append(deltas, store.StatsDelta{
			Hour: hour0.Add(time.Duration(i) * time.Hour), Upstream: "u",
			StatsCounts: store.StatsCounts{Pulls: int64(i + 1)},
		})
	}
	must(t, s.AddStats(ctx, deltas), "AddStats")

	tests := []struct {
		name         string
		since, until time.Time
		want         []int64 // pulls of the buckets returned
	}{
		{"all", hour0, hour0.Add(5 * time.Hour), []int64{1, 2, 3, 4, 5}},
		{"until excludes its hour", hour0, hour0.Add(2 * time.Hour), []int64{1, 2}},
		{"since inside an hour keeps it", hour0.Add(90 * time.Minute), hour0.Add(3 * time.Hour), []int64{2, 3}},
		{"until inside an hour keeps it", hour0.Add(3 * time.Hour), hour0.Add(3*time.Hour + time.Minute), []int64{4}},
		{"before", hour0.Add(-5 * time.Hour), hour0, nil},
		{"after", hour0.Add(5 * time.Hour), hour0.Add(9 * time.Hour), nil},
		{"empty", hour0.Add(2 * time.Hour), hour0.Add(2 * time.Hour), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Stats(ctx, tt.since, tt.until)
			must(t, err, "Stats")
			var pulls []int64
			for _, b := range got {
				pulls = append(pulls, b.Pulls)
			}
			if diff := cmp.Diff(tt.want, pulls); diff != "" {
				t.Errorf("pulls of Stats(%s, %s) (-want +got):\n%s", tt.since, tt.until, diff)
			}
		})
	}
}

func testStatsRefused(t *testing.T, s StatsMeta) {
	ctx := t.Context()
	tests := []struct {
		name  string
		delta store.StatsDelta
	}{
		{"negative", store.StatsDelta{Hour: t0, Upstream: "u", StatsCounts: store.StatsCounts{BytesFromCache: -1}}},
		{"zero hour", store.StatsDelta{Upstream: "u", StatsCounts: store.StatsCounts{Pulls: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := store.StatsDelta{Hour: t0, Upstream: "u", StatsCounts: store.StatsCounts{Pulls: 1}}
			if err := s.AddStats(ctx, []store.StatsDelta{good, tt.delta}); err == nil {
				t.Fatalf("AddStats with a %s delta = nil; want an error", tt.name)
			}
			got, err := s.Stats(ctx, hour0, hour0.Add(time.Hour))
			must(t, err, "Stats")
			if len(got) != 0 {
				t.Errorf("after a refused AddStats, Stats = %v; want nothing added", got)
			}
		})
	}
}

func testStatsConcurrent(t *testing.T, s StatsMeta) {
	ctx := t.Context()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range iterations {
				err := s.AddStats(ctx, []store.StatsDelta{{Hour: t0, Upstream: "u", StatsCounts: store.StatsCounts{Pulls: 1, BytesFromCache: 10}}})
				if err != nil {
					t.Errorf("AddStats: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.Stats(ctx, hour0, hour0.Add(time.Hour))
	must(t, err, "Stats")
	want := []store.StatsBucket{{Hour: hour0, Upstream: "u", StatsCounts: store.StatsCounts{
		Pulls: workers * iterations, BytesFromCache: 10 * workers * iterations}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Stats after concurrent adds (-want +got):\n%s", diff)
	}
}

func testStatsReopen(t *testing.T, open func() StatsMeta) {
	s := open()
	must(t, s.AddStats(t.Context(), []store.StatsDelta{{Hour: t0, Upstream: "u", StatsCounts: store.StatsCounts{Pulls: 3}}}), "AddStats")
	must(t, s.Close(), "Close")

	s = open()
	defer s.Close()
	must(t, s.AddStats(t.Context(), []store.StatsDelta{{Hour: t0, Upstream: "u", StatsCounts: store.StatsCounts{Pulls: 2}}}), "AddStats after reopening")
	got, err := s.Stats(t.Context(), hour0, hour0.Add(time.Hour))
	must(t, err, "Stats")
	if len(got) != 1 || got[0].Pulls != 5 {
		t.Errorf("Stats after reopening = %+v; want one bucket with 5 pulls", got)
	}
}
