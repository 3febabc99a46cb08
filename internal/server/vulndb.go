package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"breakwater/internal/config"
	"breakwater/internal/telemetry"
	"breakwater/internal/vulndb"
	"breakwater/internal/vulndb/sqlite"
)

// VulnDBFile is the vulnerability database's file under the data
// directory; the vulndb commands open the same one.
const VulnDBFile = "vulndb.db"

// OpenVulnDB opens (creating it if missing) the vulnerability database
// under dataDir. A nil log discards.
func OpenVulnDB(dataDir string, log *slog.Logger) (*vulndb.DB, error) {
	st, err := sqlite.Open(filepath.Join(dataDir, VulnDBFile))
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database: %w", err)
	}
	return vulndb.New(st, log), nil
}

// Feeds turns the configured feeds into vulndb's.
func Feeds(c config.VulnDB) []vulndb.Feed {
	out := make([]vulndb.Feed, 0, len(c.Feeds))
	for _, f := range c.Feeds {
		out = append(out, vulndb.Feed{Name: f.SourceName(), URL: f.URL})
	}
	return out
}

// refresh keeps the vulnerability data fresh until ctx ends, as c says,
// and calls changed after each round that imported something:
//
//   - refresh on: stale or missing feeds are fetched at once (or, without
//     load_at_start, first after one interval), then every interval;
//   - refresh off with load_at_start: one fetch if the database is empty;
//   - otherwise nothing.
//
// Failures are logged, never fatal: a server without data still serves
// whatever its firewall mode allows, and /readyz says why it is not ready.
// A nil log discards.
func refresh(ctx context.Context, db *vulndb.DB, c config.VulnDB, log *slog.Logger, changed func(context.Context)) {
	log = telemetry.OrDiscard(log)
	feeds := Feeds(c)
	if len(feeds) == 0 {
		return
	}
	r := &vulndb.Refresher{DB: db, Feeds: feeds, Interval: c.Refresh}
	if c.Refresh <= 0 {
		if !c.LoadAtStart {
			return
		}
		if ok, err := db.Ready(ctx); err != nil || ok {
			return // an error here shows again on /readyz
		}
		r.Interval = time.Duration(1<<63 - 1) // only missing feeds
		log.Info("loading vulnerability data", telemetry.KeyFeeds, len(feeds))
		refreshOnce(ctx, r, log, changed)
		return
	}

	// Refresher.Run would do this loop, but says nothing of what changed.
	log.Info("refreshing vulnerability data", telemetry.KeyFeeds, len(feeds), telemetry.KeyDuration, c.Refresh)
	tick := time.NewTicker(c.Refresh)
	defer tick.Stop()
	if c.LoadAtStart {
		refreshOnce(ctx, r, log, changed)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			refreshOnce(ctx, r, log, changed)
		}
	}
}

// refreshOnce imports what is stale, logs what failed, and calls changed
// if anything was imported.
func refreshOnce(ctx context.Context, r *vulndb.Refresher, log *slog.Logger, changed func(context.Context)) {
	n, err := r.RefreshOnce(ctx)
	if err != nil && ctx.Err() == nil {
		log.Warn("vulnerability data refresh incomplete", telemetry.KeyError, err)
	}
	if n > 0 && ctx.Err() == nil {
		changed(ctx)
	}
}
