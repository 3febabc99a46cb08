package store

import (
	"context"
	"time"
)

// Stats keeps the hourly counters the dashboard draws its charts from.
// They live in the store, not in a process, so the history survives a
// restart and replicas sharing one store add up: AddStats adds to what a
// bucket holds, it never replaces it. Implementations are safe for
// concurrent use.
type Stats interface {
	// AddStats adds each delta to the bucket of its hour and upstream,
	// creating the bucket if needed, all in one transaction. A delta's
	// Hour is truncated to the hour in UTC. A negative count or a zero
	// Hour is refused, and nothing is added.
	AddStats(ctx context.Context, deltas []StatsDelta) error
	// Stats returns the buckets whose hour overlaps [since, until),
	// ordered by hour, then upstream. Hours without a bucket are absent.
	Stats(ctx context.Context, since, until time.Time) ([]StatsBucket, error)
}

// StatsCounts are the counters of one hour and upstream.
type StatsCounts struct {
	// Pulls counts manifest GETs answered with 200.
	Pulls int64 `json:"pulls"`
	// CacheHits counts manifests and blobs served from the cache (stale
	// tags included), CacheMisses those that took an upstream request.
	CacheHits   int64 `json:"cache_hits"`
	CacheMisses int64 `json:"cache_misses"`
	// BytesFromCache are the body bytes of manifests and blobs sent to
	// clients from the cache; BytesFromUpstream the body bytes fetched
	// from upstreams, for clients or for an inspection.
	BytesFromCache    int64 `json:"bytes_from_cache"`
	BytesFromUpstream int64 `json:"bytes_from_upstream"`
	// Violations counts verdicts of audit or quarantine, Quarantines the
	// quarantine records made.
	Violations  int64 `json:"violations"`
	Quarantines int64 `json:"quarantines"`
}

// Add adds o to c.
func (c *StatsCounts) Add(o StatsCounts) {
	c.Pulls += o.Pulls
	c.CacheHits += o.CacheHits
	c.CacheMisses += o.CacheMisses
	c.BytesFromCache += o.BytesFromCache
	c.BytesFromUpstream += o.BytesFromUpstream
	c.Violations += o.Violations
	c.Quarantines += o.Quarantines
}

// Negative reports whether any count is below zero.
func (c StatsCounts) Negative() bool {
	return c.Pulls < 0 || c.CacheHits < 0 || c.CacheMisses < 0 || c.BytesFromCache < 0 ||
		c.BytesFromUpstream < 0 || c.Violations < 0 || c.Quarantines < 0
}

// StatsDelta is what one process counted in one hour for one upstream
// since it last wrote.
type StatsDelta struct {
	Hour     time.Time
	Upstream string
	StatsCounts
}

// StatsBucket is the total of one hour (its start, in UTC) for one
// upstream, over every process that wrote to the store.
type StatsBucket struct {
	Hour     time.Time `json:"hour"`
	Upstream string    `json:"upstream,omitempty"` // empty in sums over upstreams
	StatsCounts
}
