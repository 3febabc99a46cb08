package server

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
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

// OpenVulnDB opens (creating it and dataDir if missing) the vulnerability
// database under dataDir. A nil log discards.
func OpenVulnDB(dataDir string, log *slog.Logger) (*vulndb.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
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

// retryUnready is how soon a failed fetch is tried again while there is
// no vulnerability data at all: the firewall is not ready meanwhile, so
// waiting a whole refresh interval would keep it down for a day after one
// network blip at start. A variable so tests can shorten it.
var retryUnready = 5 * time.Minute

// refresh keeps the vulnerability data fresh until ctx ends, as c says,
// and calls changed after each round that imported something:
//
//   - refresh on: stale or missing feeds are fetched at once (or, without
//     load_at_start, first after one interval), then every interval;
//   - refresh off with load_at_start: the feeds are fetched if the
//     database is empty, and nothing more once it is not;
//   - otherwise nothing.
//
// While the database is empty, failed fetches are tried again every
// retryUnready. Failures are logged, never fatal: a server without data
// still serves whatever its firewall mode allows, and /readyz says why it
// is not ready. A nil log discards.
func refresh(ctx context.Context, db *vulndb.DB, c config.VulnDB, log *slog.Logger, changed func(context.Context)) {
	log = telemetry.OrDiscard(log)
	feeds := Feeds(c)
	if len(feeds) == 0 || (c.Refresh <= 0 && !c.LoadAtStart) {
		return
	}
	if ready, err := db.Ready(ctx); c.Refresh <= 0 && err == nil && ready {
		return // loaded already, and no schedule to keep
	}
	r := &vulndb.Refresher{DB: db, Feeds: feeds, Interval: c.Refresh}
	if c.Refresh <= 0 {
		r.Interval = time.Duration(1<<63 - 1) // only missing feeds
		log.Info("loading vulnerability data", telemetry.KeyFeeds, len(feeds))
	} else {
		log.Info("refreshing vulnerability data", telemetry.KeyFeeds, len(feeds), telemetry.KeyInterval, c.Refresh)
	}

	// Refresher.Run would do this loop, but says nothing of what changed
	// and waits a whole interval after a failure.
	wait := c.Refresh
	if c.LoadAtStart {
		wait = 0
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		refreshOnce(ctx, r, log, changed)

		ready, err := db.Ready(ctx)
		switch {
		case err != nil:
			wait = cmp.Or(c.Refresh, retryUnready) // /readyz shows the error
		case !ready:
			wait = min(cmp.Or(c.Refresh, retryUnready), retryUnready)
		case c.Refresh <= 0:
			return // loaded, and no schedule to keep
		default:
			wait = c.Refresh
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
