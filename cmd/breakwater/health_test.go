package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// osvRecord is one small OSV record: enough vulnerability data for the
// firewall to be ready.
const osvRecord = `{"id": "GHSA-test-0001", "modified": "2024-01-01T00:00:00Z",
 "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.3.0"}]}]}]}`

// getHealth returns the status and decoded body of GET path.
func getHealth(t *testing.T, addr, path string) (int, health) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h health
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", path, b, err)
	}
	return resp.StatusCode, h
}

type health struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`
}

func TestServeHealth(t *testing.T) {
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, osvRecord)
	}))
	t.Cleanup(feed.Close)
	noFeeds := writeFile(t, "vulndb:\n  feeds: []\n")
	oneFeed := writeFile(t, "vulndb:\n  refresh: 0s\n  feeds:\n    - {name: test-osv, url: "+feed.URL+"/osv.json}\n")

	tests := []struct {
		name      string
		args      []string
		wantReady bool
		wantLog   string
	}{
		{"firewall off", []string{"--firewall", "off"}, true, ""},
		{"no vulnerability data", []string{"--firewall", "quarantine", "--config", noFeeds}, false, "no vulnerability data loaded yet"},
		{"data loaded at start", []string{"--firewall", "audit", "--config", oneFeed}, true, "loading vulnerability data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServe(t, "http://127.0.0.1:1", nil, tt.args...)
			if code, _ := getHealth(t, srv.addr, "/healthz"); code != http.StatusOK {
				t.Errorf("/healthz: got %d, want 200", code)
			}

			// Loading at start runs beside serving: wait for it, bounded.
			code, h := getHealth(t, srv.addr, "/readyz")
			for deadline := time.Now().Add(30 * time.Second); tt.wantReady && !h.Ready && time.Now().Before(deadline); {
				time.Sleep(50 * time.Millisecond)
				code, h = getHealth(t, srv.addr, "/readyz")
			}
			wantCode := http.StatusOK
			if !tt.wantReady {
				wantCode = http.StatusServiceUnavailable
			}
			if code != wantCode || h.Ready != tt.wantReady {
				t.Errorf("/readyz: got %d %+v, want %d ready=%v", code, h, wantCode, tt.wantReady)
			}
			if !tt.wantReady && !strings.Contains(h.Reason, "vulnerability data") {
				t.Errorf("/readyz reason %q does not say what is missing", h.Reason)
			}
			if tt.wantLog != "" && !strings.Contains(srv.log(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, srv.log())
			}
		})
	}
}
