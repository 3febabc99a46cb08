package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"breakwater/internal/config"
	"breakwater/internal/policy"
	"breakwater/internal/store"
	"breakwater/internal/vulndb"
)

// osvRecord is one small OSV record, enough data for the firewall to be
// ready.
const osvRecord = `{"id": "GHSA-test-0001", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]}`

// testConfig is the default configuration on a fresh data directory, in
// firewall mode m, fetching no feed.
func testConfig(t *testing.T, m policy.Mode) config.Config {
	t.Helper()
	c := config.Default()
	c.Data = t.TempDir()
	c.Firewall.Firewall = c.Firewall.WithMode(m)
	c.VulnDB.Feeds = nil
	return c
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthRouting(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot) // marks what reached the registry
	})
	notReady := func(context.Context) (bool, string) { return false, "no data" }
	h := withHealth(next, notReady)
	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{"/healthz", http.StatusOK, `{"alive":true}`},
		{"/readyz", http.StatusServiceUnavailable, `{"ready":false,"reason":"no data"}`},
		{"/v2/", http.StatusTeapot, ""},
		{"/v2/healthz/manifests/1", http.StatusTeapot, ""},
		{"/readyz/", http.StatusTeapot, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, h, tt.path)
			if code != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody+"\n") {
				t.Errorf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		mode         policy.Mode
		wantFirewall bool
		wantReady    int // before any data is loaded
	}{
		{policy.ModeOff, false, http.StatusOK},
		{policy.ModeAudit, true, http.StatusServiceUnavailable},
		{policy.ModeQuarantine, true, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			s, err := Build(testConfig(t, tt.mode), nil)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got := s.Firewall() != nil; got != tt.wantFirewall {
				t.Errorf("firewall built: got %v, want %v", got, tt.wantFirewall)
			}
			if code, body := get(t, s.Handler(), "/readyz"); code != tt.wantReady {
				t.Errorf("/readyz before data: got %d %s, want %d", code, body, tt.wantReady)
			}

			// Data imported beside the server makes it ready at once.
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "rec.json"), []byte(osvRecord), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := vulndb.Import(t.Context(), s.vulndb, dir); err != nil {
				t.Fatalf("import: %v", err)
			}
			if code, body := get(t, s.Handler(), "/readyz"); code != http.StatusOK {
				t.Errorf("/readyz after import: got %d %s, want 200", code, body)
			}

			// Close closes every store it opened.
			s.Start(t.Context())
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := s.vulndb.Status(context.Background()); err == nil {
				t.Error("vulnerability database still open after Close")
			}
			if _, err := s.meta.Tags(context.Background(), "docker.io/library/x", "", 1); err == nil || errors.Is(err, store.ErrNotFound) {
				t.Error("metadata store still open after Close")
			}
			if _, err := os.Stat(s.blobs.TempDir()); !os.IsNotExist(err) {
				t.Errorf("blob store's spool still there after Close: %v", err)
			}
		})
	}
}

// feedServer serves osvRecord and counts the requests.
func feedServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, osvRecord)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRefreshAtStart(t *testing.T) {
	tests := []struct {
		name        string
		loadAtStart bool
		loaded      bool // data there before
		wantFetches int32
	}{
		{"empty database loads", true, false, 1},
		{"loaded database does not", true, true, 0},
		{"load_at_start off", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, fetches := feedServer(t)
			db, err := OpenVulnDB(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if tt.loaded {
				if _, err := vulndb.Import(t.Context(), db, feed.URL+"/x.json", vulndb.WithSource("earlier")); err != nil {
					t.Fatal(err)
				}
				fetches.Store(0)
			}

			c := config.VulnDB{LoadAtStart: tt.loadAtStart, Feeds: []config.Feed{{Name: "test", URL: feed.URL + "/osv.json"}}}
			changed := 0
			refresh(t.Context(), db, c, nil, func(context.Context) { changed++ })
			if got := fetches.Load(); got != tt.wantFetches {
				t.Errorf("got %d fetches, want %d", got, tt.wantFetches)
			}
			if changed != int(tt.wantFetches) {
				t.Errorf("changed called %d times, want %d", changed, tt.wantFetches)
			}
		})
	}
}

// TestRefreshScheduled checks that with refresh on, the feeds are fetched
// at start and the loop ends with its context.
func TestRefreshScheduled(t *testing.T) {
	feed, fetches := feedServer(t)
	db, err := OpenVulnDB(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := config.VulnDB{Refresh: time.Hour, LoadAtStart: true, Feeds: []config.Feed{{URL: feed.URL + "/osv.json"}}}

	ctx, cancel := context.WithCancel(t.Context())
	changed := make(chan struct{}, 1)
	done := make(chan struct{})
	var logs bytes.Buffer // read only after done
	go func() {
		defer close(done)
		refresh(ctx, db, c, slog.New(slog.NewTextHandler(&logs, nil)), func(context.Context) { changed <- struct{}{} })
	}()
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("no refresh within 30s")
	}
	cancel()
	<-done
	if got := fetches.Load(); got != 1 {
		t.Errorf("got %d fetches, want 1", got)
	}
	// The refresh period is an interval, not how long something took.
	if want := `msg="refreshing vulnerability data" feeds=1 interval=1h0m0s`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs.String())
	}
	srcs, err := db.Status(context.Background())
	if err != nil || len(srcs) != 1 || srcs[0].Name != feed.URL+"/osv.json" {
		b, _ := json.Marshal(srcs)
		t.Errorf("got sources %s (%v), want one named by its URL", b, err)
	}
}

// TestRefreshRetriesWhileUnready checks that a fetch failing while there
// is no data is tried again soon, not a refresh interval later.
func TestRefreshRetriesWhileUnready(t *testing.T) {
	old := retryUnready
	retryUnready = time.Millisecond
	t.Cleanup(func() { retryUnready = old })

	var fetches atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) < 3 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, osvRecord)
	}))
	t.Cleanup(feed.Close)
	db, err := OpenVulnDB(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// Refresh off: refresh returns once the data is loaded.
	c := config.VulnDB{LoadAtStart: true, Feeds: []config.Feed{{Name: "flaky", URL: feed.URL + "/osv.json"}}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	changed := 0
	refresh(ctx, db, c, nil, func(context.Context) { changed++ })
	if ready, err := db.Ready(context.Background()); !ready || err != nil {
		t.Fatalf("not ready after refresh returned (%v); %d fetches", err, fetches.Load())
	}
	if got := fetches.Load(); got != 3 || changed != 1 {
		t.Errorf("got %d fetches and %d changes, want 3 and 1", got, changed)
	}
}
