package vulndb_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/inventory"
	"breakwater/internal/vulndb"
)

// TestRefresher refreshes two feeds over HTTP on a fake clock.
func TestRefresher(t *testing.T) {
	all := zipOf(t, "osv/malicious/npm")
	var hits atomic.Int32
	var failMal atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.URL.Path == "/mal/all.zip" && failMal.Load():
			http.Error(w, "down", http.StatusServiceUnavailable)
		case r.URL.Path == "/mal/all.zip":
			w.Write(all)
		case r.URL.Path == "/bad-files.txt":
			w.Write([]byte("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae test\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)

	db := openDB(t)
	ctx := context.Background()
	clock := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := &vulndb.Refresher{
		DB:       db,
		Feeds:    []vulndb.Feed{{Name: "mal", URL: srv.URL + "/mal/all.zip"}, {Name: "files", URL: srv.URL + "/bad-files.txt"}},
		Interval: time.Hour,
		Options:  []vulndb.ImportOption{vulndb.WithHTTPClient(srv.Client())},
		Now:      func() time.Time { return clock },
	}
	if ready, err := db.Ready(ctx); err != nil || ready {
		t.Fatalf("Ready on an empty database = %v, %v; want false", ready, err)
	}
	if _, err := vulndb.Import(ctx, db, writeFile(t, "bad.txt", []byte("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae x\n"))); err != nil {
		t.Fatal(err)
	}
	if ready, err := db.Ready(ctx); err != nil || ready {
		t.Fatalf("Ready with only known-bad digests = %v, %v; want false", ready, err)
	}

	steps := []struct {
		name     string
		advance  time.Duration
		failMal  bool
		want     int
		wantErr  bool
		wantHits int32
	}{
		{"first run loads everything", 0, false, 2, false, 2},
		{"fresh data is not fetched again", 30 * time.Minute, false, 0, false, 0},
		{"stale data is fetched again", 31 * time.Minute, false, 2, false, 2},
		{"a failed feed does not stop the others", 2 * time.Hour, true, 1, true, 2},
	}
	for _, st := range steps {
		clock = clock.Add(st.advance)
		failMal.Store(st.failMal)
		hits.Store(0)
		n, err := r.RefreshOnce(ctx)
		if n != st.want || (err != nil) != st.wantErr || hits.Load() != st.wantHits {
			t.Errorf("%s: imported %d (%v) with %d requests, want %d (error %v) with %d", st.name, n, err, hits.Load(), st.want, st.wantErr, st.wantHits)
		}
		if err != nil && !strings.Contains(err.Error(), "503") {
			t.Errorf("%s: error %q, want the feed's status", st.name, err)
		}
		// In a log the error is a count; each feed's failure has its line.
		if err != nil {
			if v := slog.AnyValue(err).Resolve().String(); v != "1 of 2 feeds not refreshed" {
				t.Errorf("%s: error logs as %q, want the count of failed feeds", st.name, v)
			}
		}
	}

	// The failed refresh kept the malware data of the one before.
	got := match(t, db, &inventory.Inventory{Components: []inventory.Component{comp("npm", "chalk", "5.6.1")}})
	if _, ok := got["chalk MAL-2025-46969"]; !ok {
		t.Errorf("findings = %v, want the malware record kept", keys(got))
	}
	if ready, err := db.Ready(ctx); err != nil || !ready {
		t.Errorf("Ready = %v, %v; want true", ready, err)
	}
}

// TestRefresherRunStops ends Run with its context after the first round.
func TestRefresherRunStops(t *testing.T) {
	db := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae test\n"))
		cancel()
	}))
	t.Cleanup(srv.Close)
	r := &vulndb.Refresher{DB: db, Feeds: []vulndb.Feed{{Name: "files", URL: srv.URL}}, Options: []vulndb.ImportOption{vulndb.WithHTTPClient(srv.Client())}}
	if err := r.Run(ctx); err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestPublicFeeds(t *testing.T) {
	feeds := vulndb.PublicFeeds(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	names := map[string]bool{}
	for _, f := range feeds {
		if names[f.Name] {
			t.Errorf("feed name %s twice", f.Name)
		}
		names[f.Name] = true
		if !strings.HasPrefix(f.URL, "https://") {
			t.Errorf("feed %s at %s, want https", f.Name, f.URL)
		}
	}
	for _, want := range []string{"debian-tracker", "osv-npm", "osv-PyPI", "osv-Go", "osv-Alpine", "nvd-2002", "nvd-2026"} {
		if !names[want] {
			t.Errorf("no feed %s among %v", want, keys(names))
		}
	}
}

// TestRefresherNotModified asks again for a stale feed but downloads it
// only when it changed.
func TestRefresherNotModified(t *testing.T) {
	srv := newFeedServer(t, zipOf(t, "osv/npm"), time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC))
	clock := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := &vulndb.Refresher{
		DB:       openDB(t),
		Feeds:    []vulndb.Feed{{Name: "npm", URL: srv.URL + "/all.zip"}},
		Interval: time.Hour,
		Options:  []vulndb.ImportOption{vulndb.WithHTTPClient(srv.Client())},
		Now:      func() time.Time { return clock },
	}
	var imported []int
	r.Imported = func(f vulndb.Feed, rep vulndb.Report) { imported = append(imported, rep.Records) }
	defer func() {
		if diff := cmp.Diff(imported, []int{8, 8}); diff != "" {
			t.Errorf("Imported calls, by records (-got +want):\n%s", diff)
		}
	}()
	steps := []struct {
		name          string
		changed       bool
		want          int
		hits, fullGET int32
	}{
		{"first import", false, 1, 1, 1},
		{"stale but unchanged", false, 0, 2, 1},
		{"still unchanged, asked again", false, 0, 3, 1},
		{"changed", true, 1, 4, 2},
	}
	for _, st := range steps {
		if st.changed {
			srv.modified.Add(3600)
		}
		n, err := r.RefreshOnce(context.Background())
		if err != nil || n != st.want || srv.hits.Load() != st.hits || srv.fullGET.Load() != st.fullGET {
			t.Errorf("%s: imported %d (%v), %d requests, %d downloads; want %d, %d, %d",
				st.name, n, err, srv.hits.Load(), srv.fullGET.Load(), st.want, st.hits, st.fullGET)
		}
		clock = clock.Add(2 * time.Hour)
	}
}
