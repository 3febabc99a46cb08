package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/admin"
	"breakwater/internal/store"
	"breakwater/internal/store/sqlite"
)

// TestAuditAndQuarantineFilters runs audit and quarantine list with the
// filters over records written straight into a data directory's store.
func TestAuditAndQuarantineFilters(t *testing.T) {
	data := t.TempDir()
	meta, err := sqlite.Open(filepath.Join(data, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day := func(d int) time.Time { return time.Date(2026, 3, d, 12, 0, 0, 0, time.UTC) }
	img := digest.FromString("img")
	err = meta.AppendAudits(ctx, []store.AuditEntry{
		{At: day(1), Actor: "alice", Action: "pull", Repo: "docker.io/library/a", Digest: img, Client: "10.0.0.1", Result: "allow"},
		{At: day(2), Actor: "bob", Action: "pull-denied", Repo: "docker.io/library/a", Digest: img, Client: "10.0.0.2", Result: "quarantine"},
		{At: day(3), Actor: "alice", Action: "pull", Repo: "docker.io/library/b", Digest: digest.FromString("b"), Client: "10.0.0.1", Result: "audit"},
		{At: day(4), Actor: "alice", Action: "released", Repo: "docker.io/library/a", Digest: img},
	})
	for _, q := range []store.Quarantine{
		{ID: "000000000001", Repo: "docker.io/library/a", Digest: img, RequestedAt: day(2), Policies: []string{"malware"}, Severity: "critical", Evidence: []byte("{}")},
		{ID: "000000000002", Repo: "docker.io/library/c", Digest: digest.FromString("c"), RequestedAt: day(3), Policies: []string{"cvss-8"}, Severity: "high", MaxScore: 8.8, Evidence: []byte("{}")},
		{ID: "000000000003", Repo: "docker.io/library/d", Digest: digest.FromString("d"), RequestedAt: day(4), Policies: []string{"cvss-8"}, Severity: "medium", MaxScore: 5, Evidence: []byte("{}")},
	} {
		if err == nil {
			_, err = meta.PutQuarantine(ctx, q)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	meta.Close()

	auditTests := []struct {
		args []string
		want []string // actor/action/client/result of each entry
	}{
		{[]string{"--user", "alice"}, []string{"alice/pull/10.0.0.1/allow", "alice/pull/10.0.0.1/audit", "alice/released//"}},
		{[]string{"--user", "alice", "--action", "pull", "--newest"}, []string{"alice/pull/10.0.0.1/audit", "alice/pull/10.0.0.1/allow"}},
		{[]string{"--since", "2026-03-02", "--until", "2026-03-03T12:00:00Z"}, []string{"bob/pull-denied/10.0.0.2/quarantine"}},
		{[]string{"--digest", img.String(), "--client", "10.0.0.1"}, []string{"alice/pull/10.0.0.1/allow"}},
	}
	for _, tt := range auditTests {
		t.Run("audit "+strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := run(t, nil, append([]string{"audit", "--data", data, "--format", "json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("audit: %v", err)
			}
			var entries []auditEntry
			if err := json.Unmarshal([]byte(out), &entries); err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.Actor+"/"+e.Action+"/"+e.Client+"/"+e.Result)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries = %v; want %v", got, tt.want)
			}
		})
	}

	listTests := []struct {
		args []string
		want []string
	}{
		{[]string{"--policy", "cvss-8"}, []string{"000000000003", "000000000002"}},
		{[]string{"--severity", "high"}, []string{"000000000002", "000000000001"}},
		{[]string{"--policy", "cvss-8", "--sort", "score"}, []string{"000000000002", "000000000003"}},
		{[]string{"--since", "2026-03-03", "--sort", "oldest"}, []string{"000000000002", "000000000003"}},
	}
	for _, tt := range listTests {
		t.Run("quarantine list "+strings.Join(tt.args, " "), func(t *testing.T) {
			out, _, err := run(t, nil, append([]string{"quarantine", "list", "--data", data, "--format", "json"}, tt.args...)...)
			if err != nil {
				t.Fatalf("quarantine list: %v", err)
			}
			var recs []struct{ ID string }
			if err := json.Unmarshal([]byte(out), &recs); err != nil {
				t.Fatalf("decode %s: %v", out, err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("records = %v; want %v", got, tt.want)
			}
		})
	}

	badTests := []struct {
		args []string
		want string
	}{
		{[]string{"audit", "--data", data, "--since", "soon"}, "--since"},
		{[]string{"audit", "--data", data, "--since", "2026-03-04", "--until", "2026-03-01"}, "--until is before --since"},
		// As GET /api/v1/audit?action=nosuch answers 400, not an empty page.
		{[]string{"audit", "--data", data, "--action", "nosuch"}, `--action: action "nosuch" is unknown; known actions: ` + strings.Join(admin.AuditActions, ", ")},
		{[]string{"audit", "--data", data, "--action", "Pull"}, `action "Pull" is unknown`},
		{[]string{"quarantine", "list", "--data", data, "--severity", "dire"}, "dire"},
		{[]string{"quarantine", "list", "--data", data, "--sort", "size"}, "size"},
	}
	for _, tt := range badTests {
		if out, _, err := run(t, nil, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v = %v (output %q); want an error containing %q", tt.args, err, out, tt.want)
		}
	}
}
