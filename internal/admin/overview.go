package admin

import (
	"context"
	"fmt"
	"time"

	"breakwater/internal/store"
)

// MaxOverviewPeriod bounds how far back an overview reaches: a year of
// hourly buckets is 8760 per upstream.
const MaxOverviewPeriod = 366 * 24 * time.Hour

// Overview is what the dashboard's front page shows for a period.
type Overview struct {
	Since             time.Time `json:"since"`
	Pulls             int64     `json:"pulls"`
	CacheHits         int64     `json:"cache_hits"`
	CacheMisses       int64     `json:"cache_misses"`
	HitRate           float64   `json:"hit_rate"`
	BytesFromCache    int64     `json:"bytes_from_cache"`
	BytesFromUpstream int64     `json:"bytes_from_upstream"`
	Violations        int64     `json:"violations"`
	Quarantined       int64     `json:"quarantined"`
	// Series is hourly, summed over upstreams (Upstream is empty), hours
	// without traffic absent.
	Series    []store.StatsBucket `json:"series"`
	Upstreams []UpstreamStatus    `json:"upstreams"`
	VulnDBAge time.Duration       `json:"-"`
	// VulnDBAgeSeconds is VulnDBAge for JSON.
	VulnDBAgeSeconds float64 `json:"vulndb_age_seconds"`
	// QuarantineOpen counts the quarantine records kept now, whenever
	// they were made.
	QuarantineOpen int `json:"quarantine_open"`
}

// Overview sums the hourly statistics since a time (zero: 24 hours ago)
// up to now.
func (s *Service) Overview(ctx context.Context, since time.Time) (Overview, error) {
	now := s.opts.Now()
	if since.IsZero() {
		since = now.Add(-24 * time.Hour)
	}
	switch {
	case since.After(now):
		return Overview{}, invalidf("since %s is in the future", since.Format(time.RFC3339))
	case now.Sub(since) > MaxOverviewPeriod+time.Minute: // since=366d was read a moment before now
		return Overview{}, invalidf("since reaches back more than %d days", int(MaxOverviewPeriod.Hours()/24))
	}
	o := Overview{Since: since.UTC(), Series: []store.StatsBucket{}}
	if s.opts.Stats != nil {
		bs, err := s.opts.Stats.Stats(ctx, since, now)
		if err != nil {
			return Overview{}, fmt.Errorf("read statistics: %w", err)
		}
		for _, b := range bs {
			o.Pulls += b.Pulls
			o.CacheHits += b.CacheHits
			o.CacheMisses += b.CacheMisses
			o.BytesFromCache += b.BytesFromCache
			o.BytesFromUpstream += b.BytesFromUpstream
			o.Violations += b.Violations
			o.Quarantined += b.Quarantines
			// Buckets come by hour, so one hour's upstreams are adjacent.
			if n := len(o.Series); n > 0 && o.Series[n-1].Hour.Equal(b.Hour) {
				o.Series[n-1].Add(b.StatsCounts)
			} else {
				o.Series = append(o.Series, store.StatsBucket{Hour: b.Hour, StatsCounts: b.StatsCounts})
			}
		}
	}
	if total := o.CacheHits + o.CacheMisses; total > 0 {
		o.HitRate = float64(o.CacheHits) / float64(total)
	}
	if s.opts.Records != nil && s.opts.Firewall != nil {
		n, err := s.opts.Records.CountQuarantines(ctx, store.QuarantineFilter{})
		if err != nil {
			return Overview{}, fmt.Errorf("count quarantine records: %w", err)
		}
		o.QuarantineOpen = n
	}
	o.Upstreams = s.Upstreams(ctx)
	o.VulnDBAge = s.vulnDBAge(ctx)
	o.VulnDBAgeSeconds = o.VulnDBAge.Seconds()
	return o, nil
}
