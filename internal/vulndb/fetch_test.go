package vulndb_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"breakwater/internal/vulndb"
)

// TestImportURL downloads a feed over HTTP before importing it.
func TestImportURL(t *testing.T) {
	all := zipOf(t, "osv/npm")
	mux := http.NewServeMux()
	mux.HandleFunc("/all.zip", func(w http.ResponseWriter, r *http.Request) {
		w.Write(all)
	})
	mux.HandleFunc("/streamed.zip", func(w http.ResponseWriter, r *http.Request) {
		// Flushing first drops Content-Length: only the copy can notice.
		w.(http.Flusher).Flush()
		w.Write(all)
	})
	mux.HandleFunc("/truncated.zip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(all[:100])
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	withSecrets := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)

	tests := []struct {
		name       string
		url        string
		opts       []vulndb.ImportOption
		wantSource string
		wantErr    bool
	}{
		{"zip", srv.URL + "/all.zip", nil, srv.URL + "/all.zip", false},
		{"credentials stay out of the source name", withSecrets + "/all.zip?token=hunter2", nil, srv.URL + "/all.zip", false},
		{"not found", withSecrets + "/missing.zip?token=hunter2", nil, "", true},
		{"announced size over the limit", srv.URL + "/all.zip", []vulndb.ImportOption{vulndb.WithMaxDownload(100)}, "", true},
		{"streamed size over the limit", srv.URL + "/streamed.zip", []vulndb.ImportOption{vulndb.WithMaxDownload(100)}, "", true},
		{"truncated body", srv.URL + "/truncated.zip", nil, "", true},
		{"unreachable", "http://127.0.0.1:1/all.zip?token=hunter2", nil, "", true},
		{"unparsable", "http://user:hunter2@exa mple.org/all.zip", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t)
			opts := append([]vulndb.ImportOption{vulndb.WithHTTPClient(srv.Client())}, tt.opts...)
			rep, err := vulndb.Import(context.Background(), db, tt.url, opts...)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("import succeeded with %+v, want an error", rep)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q repeats a credential", err)
				}
				if strings.Contains(err.Error(), "breakwater-vulndb-") {
					t.Errorf("error %q names the temporary file, not the feed", err)
				}
				srcs, serr := db.Status(context.Background())
				if serr != nil || len(srcs) != 0 {
					t.Errorf("status after a failed import = %v, %v; want no source", srcs, serr)
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if rep.Source != tt.wantSource || rep.Records != 8 {
				t.Errorf("report = %+v, want source %s with 8 records", rep, tt.wantSource)
			}
		})
	}
}

// TestImportCancelled stops a download when the context ends.
func TestImportCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("PK"))
		w.(http.Flusher).Flush()
		cancel()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)

	_, err := vulndb.Import(ctx, openDB(t), srv.URL+"/all.zip")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("import error = %v, want context.Canceled", err)
	}
}

// feedServer serves body with a Last-Modified time the test can move,
// answering conditional requests as any HTTP file server does, and counts
// requests and full downloads.
type feedServer struct {
	*httptest.Server
	modified      atomic.Int64 // Unix seconds
	hits, fullGET atomic.Int32
}

func newFeedServer(t *testing.T, body []byte, modified time.Time) *feedServer {
	t.Helper()
	fs := &feedServer{}
	fs.modified.Store(modified.Unix())
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.hits.Add(1)
		rec := httptest.NewRecorder()
		http.ServeContent(rec, r, "all.zip", time.Unix(fs.modified.Load(), 0), bytes.NewReader(body))
		if rec.Code == http.StatusOK {
			fs.fullGET.Add(1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(fs.Close)
	return fs
}

// TestImportIfModifiedSince downloads a feed only when the server says it
// changed since the last import.
func TestImportIfModifiedSince(t *testing.T) {
	modified := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	srv := newFeedServer(t, zipOf(t, "osv/npm"), modified)
	db := openDB(t)
	ctx := context.Background()
	client := vulndb.WithHTTPClient(srv.Client())

	if _, err := vulndb.Import(ctx, db, srv.URL, client); err != nil {
		t.Fatal(err)
	}
	srcs, err := db.Status(ctx)
	if err != nil || len(srcs) != 1 || !srcs[0].Modified.Equal(modified) {
		t.Fatalf("status = %+v, %v; want one source modified at %v", srcs, err, modified)
	}

	_, err = vulndb.Import(ctx, db, srv.URL, client, vulndb.WithIfModifiedSince(srcs[0].Modified))
	if !errors.Is(err, vulndb.ErrNotModified) {
		t.Errorf("import of an unchanged feed = %v, want ErrNotModified", err)
	}
	after, _ := db.Status(ctx)
	if len(after) != 1 || !after[0].ImportedAt.Equal(srcs[0].ImportedAt) {
		t.Errorf("status after not-modified = %+v, want it untouched", after)
	}

	srv.modified.Add(3600)
	if _, err := vulndb.Import(ctx, db, srv.URL, client, vulndb.WithIfModifiedSince(srcs[0].Modified)); err != nil {
		t.Errorf("import of a changed feed: %v", err)
	}
	if got := srv.fullGET.Load(); got != 2 {
		t.Errorf("%d full downloads, want 2", got)
	}
}
