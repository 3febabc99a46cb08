package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"breakwater/internal/store"
)

var _ store.Stats = (*Meta)(nil)

// statsSchema holds the hourly counters of store.Stats, one row per hour
// and upstream; hour is the start of the hour in nanoseconds.
const statsSchema = `
CREATE TABLE stats_hourly (
	hour                INTEGER NOT NULL,
	upstream            TEXT NOT NULL,
	pulls               INTEGER NOT NULL DEFAULT 0,
	cache_hits          INTEGER NOT NULL DEFAULT 0,
	cache_misses        INTEGER NOT NULL DEFAULT 0,
	bytes_from_cache    INTEGER NOT NULL DEFAULT 0,
	bytes_from_upstream INTEGER NOT NULL DEFAULT 0,
	violations          INTEGER NOT NULL DEFAULT 0,
	quarantines         INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hour, upstream)
) WITHOUT ROWID;
`

// errBadDelta is wrapped by AddStats for a delta it refuses.
var errBadDelta = errors.New("invalid statistics delta")

// AddStats adds the deltas to their hourly buckets in one transaction, so
// that several processes writing the same bucket add up.
func (m *Meta) AddStats(ctx context.Context, deltas []store.StatsDelta) error {
	for _, d := range deltas {
		if d.Hour.IsZero() || d.StatsCounts.Negative() {
			return fmt.Errorf("add statistics of %s at %s: %w", d.Upstream, d.Hour, errBadDelta)
		}
	}
	if len(deltas) == 0 {
		return nil
	}
	err := m.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range deltas {
			c := d.StatsCounts
			_, err := tx.ExecContext(ctx, `
INSERT INTO stats_hourly (hour, upstream, pulls, cache_hits, cache_misses,
	bytes_from_cache, bytes_from_upstream, violations, quarantines)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hour, upstream) DO UPDATE SET
	pulls = pulls + excluded.pulls,
	cache_hits = cache_hits + excluded.cache_hits,
	cache_misses = cache_misses + excluded.cache_misses,
	bytes_from_cache = bytes_from_cache + excluded.bytes_from_cache,
	bytes_from_upstream = bytes_from_upstream + excluded.bytes_from_upstream,
	violations = violations + excluded.violations,
	quarantines = quarantines + excluded.quarantines`,
				nanos(hourOf(d.Hour)), d.Upstream, c.Pulls, c.CacheHits, c.CacheMisses,
				c.BytesFromCache, c.BytesFromUpstream, c.Violations, c.Quarantines)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add statistics: %w", err)
	}
	return nil
}

// Stats returns the buckets overlapping [since, until).
func (m *Meta) Stats(ctx context.Context, since, until time.Time) ([]store.StatsBucket, error) {
	rows, err := m.read.QueryContext(ctx, `
SELECT hour, upstream, pulls, cache_hits, cache_misses, bytes_from_cache,
	bytes_from_upstream, violations, quarantines
FROM stats_hourly WHERE hour > ? AND hour < ? ORDER BY hour, upstream`,
		since.UnixNano()-int64(time.Hour), until.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	defer rows.Close()
	var out []store.StatsBucket
	for rows.Next() {
		var b store.StatsBucket
		var hour int64
		c := &b.StatsCounts
		if err := rows.Scan(&hour, &b.Upstream, &c.Pulls, &c.CacheHits, &c.CacheMisses,
			&c.BytesFromCache, &c.BytesFromUpstream, &c.Violations, &c.Quarantines); err != nil {
			return nil, fmt.Errorf("read statistics: %w", err)
		}
		b.Hour = fromNanos(hour)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read statistics: %w", err)
	}
	return out, nil
}

// hourOf is the start of t's hour in UTC.
func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// QuarantineCount returns how many quarantine records the store holds,
// for the quarantine gauge a metrics scrape reads; counting in SQL spares
// loading every record's evidence.
func (m *Meta) QuarantineCount(ctx context.Context) (int, error) {
	var n int
	if err := m.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM fw_quarantine`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count quarantine records: %w", err)
	}
	return n, nil
}
