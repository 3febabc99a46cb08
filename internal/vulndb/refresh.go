package vulndb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"breakwater/internal/telemetry"
)

// Feed is one source a server keeps fresh: its source name and where to
// fetch it (an http(s) URL, or a path on a mirror disk).
type Feed struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// osvBucket is where osv.dev publishes one all.zip per ecosystem.
const osvBucket = "https://osv-vulnerabilities.storage.googleapis.com/"

// PublicFeeds returns the public feeds breakwater reads by default, with
// NVD's yearly CVE files from 2002 up to now's year for scores:
//
//   - the Debian security tracker's JSON export, for the vendor statuses
//     (no-dsa, ignored, ...) that OSV records have no field for;
//   - osv.dev's all.zip for Alpine (every release), Go, npm, PyPI and
//     Maven, whose npm and PyPI files include the ossf malicious-packages
//     MAL- records;
//   - NVD CVE API 2.0 yearly feeds.
//
// Known-bad file digest lists have no public default.
func PublicFeeds(now time.Time) []Feed {
	feeds := []Feed{{Name: "debian-tracker", URL: "https://security-tracker.debian.org/tracker/data/json"}}
	for _, eco := range []string{"Alpine", "Go", "npm", "PyPI", "Maven"} {
		feeds = append(feeds, Feed{Name: "osv-" + eco, URL: osvBucket + url.PathEscape(eco) + "/all.zip"})
	}
	for y := 2002; y <= now.Year(); y++ {
		feeds = append(feeds, Feed{
			Name: fmt.Sprintf("nvd-%d", y),
			URL:  fmt.Sprintf("https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-%d.json.gz", y),
		})
	}
	return feeds
}

// Refresher re-imports feeds when their data is older than Interval. Its
// zero value is not usable: DB and Feeds are required. It is meant for
// one goroutine; the DB itself may be used by others meanwhile, since each
// import replaces its source in one transaction.
type Refresher struct {
	DB    *DB
	Feeds []Feed
	// Interval is the age at which a feed is fetched again; zero means 6
	// hours, about how often the upstream feeds change.
	Interval time.Duration
	// Options apply to every import (HTTP client, download limit).
	Options []ImportOption
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Imported, when set, is called after each feed that imported new
	// data, so cached images can be judged again against it.
	Imported func(Feed, Report)
}

const defaultRefreshInterval = 6 * time.Hour

func (r *Refresher) interval() time.Duration {
	if r.Interval <= 0 {
		return defaultRefreshInterval
	}
	return r.Interval
}

func (r *Refresher) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Run refreshes at once (so a server with no data loads it at start) and
// then every Interval until ctx ends. A failed feed is logged and tried
// again next round; the data it had stays in use.
func (r *Refresher) Run(ctx context.Context) error {
	tick := time.NewTicker(r.interval())
	defer tick.Stop()
	for {
		if _, err := r.RefreshOnce(ctx); ctx.Err() != nil {
			return ctx.Err()
		} else if err != nil {
			r.DB.log.Warn("vulnerability data refresh incomplete", telemetry.KeyError, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// RefreshOnce imports every feed whose source is missing or older than
// Interval, and returns how many it imported. It goes on past a failed
// feed and returns the failures joined, each naming its feed.
func (r *Refresher) RefreshOnce(ctx context.Context) (int, error) {
	srcs, err := r.DB.Status(ctx)
	if err != nil {
		return 0, err
	}
	imported := map[string]Source{}
	for _, s := range srcs {
		imported[s.Name] = s
	}

	var errs []error
	n := 0
	for _, f := range r.Feeds {
		src, ok := imported[f.Name]
		if ok && r.now().Sub(src.ImportedAt) < r.interval() {
			continue
		}
		opts := append(append([]ImportOption(nil), r.Options...), WithSource(f.Name), withClock(r.now))
		if ok {
			// An unchanged feed costs one request, not a download; the
			// source keeps its import time, which stays the data's age.
			opts = append(opts, WithIfModifiedSince(src.Modified))
		}
		rep, err := Import(ctx, r.DB, f.URL, opts...)
		switch {
		case err == nil:
			n++
			if r.Imported != nil {
				r.Imported(f, rep)
			}
		case errors.Is(err, ErrNotModified):
		case ctx.Err() != nil:
			return n, ctx.Err()
		default:
			r.DB.log.Warn("vulnerability feed not refreshed", telemetry.KeySource, f.Name, telemetry.KeyError, err)
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return n, &FeedsFailed{Errs: errs, Feeds: len(r.Feeds)}
	}
	return n, nil
}

// FeedsFailed is RefreshOnce's error when some feeds failed. Each failure
// is logged on its own line as it happens, so in a log the error is only
// the count: a closed network would otherwise log every feed's error in
// one line, every round.
type FeedsFailed struct {
	Errs  []error
	Feeds int
}

func (e *FeedsFailed) Error() string {
	return fmt.Sprintf("%d of %d feeds not refreshed: %v", len(e.Errs), e.Feeds, errors.Join(e.Errs...))
}

func (e *FeedsFailed) Unwrap() []error { return e.Errs }

// LogValue is what slog writes for the error.
func (e *FeedsFailed) LogValue() slog.Value {
	return slog.StringValue(fmt.Sprintf("%d of %d feeds not refreshed", len(e.Errs), e.Feeds))
}

// Ready reports whether any source holds vulnerability records: until
// then matching finds nothing, and a firewall must not take that for a
// clean image. Known-bad digests alone do not make it ready.
func (db *DB) Ready(ctx context.Context) (bool, error) {
	srcs, err := db.Status(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range srcs {
		for eco, n := range s.Counts {
			if n > 0 && eco != countFiles {
				return true, nil
			}
		}
	}
	return false, nil
}
