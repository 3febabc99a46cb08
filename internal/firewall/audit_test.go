package firewall_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
	"breakwater/internal/registry"
	"breakwater/internal/store"
)

// servePulls serves the registry with gate (nil: firewall off) and the
// pull log pl, as the user named in the request's X-Test-User header: a
// stand-in for the authentication in front of the registry.
func (e *env) servePulls(gate registry.Gate, pl *firewall.PullLog) {
	e.t.Helper()
	if e.srv != nil {
		e.srv.Close()
	}
	router, err := registry.NewRouter("docker.io", registry.Upstream{Name: "docker.io"})
	if err != nil {
		e.t.Fatalf("NewRouter: %v", err)
	}
	opts := registry.Options{Pulls: pl}
	if gate != nil {
		opts.Gate = gate
	}
	h := firewall.Requesters(registry.New(e.cache, router, opts))
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			r = r.WithContext(firewall.WithRequester(r.Context(), firewall.Requester{User: u}))
		}
		h.ServeHTTP(w, r)
	}))
}

// getAs GETs a manifest as user.
func (e *env) getAs(user, repo, ref string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", manifestAccept)
	req.Header.Set("X-Test-User", user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pullLog starts a pull log over the env's store that writes only when
// closed or when batch entries wait.
func (e *env) pullLog(batch int) *firewall.PullLog {
	e.t.Helper()
	pl, err := firewall.NewPullLog(firewall.PullLogOptions{Store: e.meta, Now: e.clock.Now, Batch: batch, Interval: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { pl.Close() })
	return pl
}

// pulls returns the pull log's entries, oldest first.
func (e *env) pulls() []store.AuditEntry {
	e.t.Helper()
	var out []store.AuditEntry
	for _, action := range []string{firewall.ActionPull, firewall.ActionPullDenied} {
		entries, err := e.meta.Audit(e.t.Context(), store.AuditFilter{Action: action}, 0, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, entries...)
	}
	slices.SortFunc(out, func(a, b store.AuditEntry) int { return int(a.ID - b.ID) })
	return out
}

// pullKey is what TestPullLog checks of an entry.
type pullKey struct {
	Actor, Action, Repo string
	Digest              digest.Digest
	Client, Result      string
}

func keysOf(entries []store.AuditEntry) []pullKey {
	out := make([]pullKey, len(entries))
	for i, e := range entries {
		out[i] = pullKey{e.Actor, e.Action, e.Repo, e.Digest, e.Client, e.Result}
	}
	return out
}

// TestPullLog pulls served, withheld, off-mode and indexed images, and
// checks that each manifest GET of an image is one entry with its user,
// address and verdict, that HEADs and indexes are not logged, and that
// nothing is written before the batch fills or the log closes.
func TestPullLog(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	pl := e.pullLog(1000)
	e.servePulls(e.fw, pl)

	clean := e.push("quar/clean:1", image(t, cleanFiles, "amd64", "pull log clean"))
	evil := e.push("quar/evil:1", image(t, malwareFiles, "amd64", "pull log evil"))
	off := e.push("off/app:1", image(t, malwareFiles, "amd64", "pull log off"))
	audited := e.push("audit/deb:1", image(t, debianFiles, "amd64", "pull log audit"))
	arm := image(t, cleanFiles, "arm64", "pull log index")
	amd := image(t, cleanFiles, "amd64", "pull log index")
	e.pushIndex("quar/multi:1", map[string]v1.Image{"amd64": amd, "arm64": arm})
	amdDigest := describe(t, amd).manifest

	steps := []struct {
		user, repo, ref string
		status          int
	}{
		{"alice", "quar/clean", "1", 200},
		{"", "quar/clean", clean.manifest.String(), 200},
		{"bob", "quar/evil", "1", 404},
		{"alice", "off/app", "1", 200},
		{"alice", "audit/deb", "1", 200},
		{"carol", "quar/multi", "1", 200},                // the index: not logged
		{"carol", "quar/multi", amdDigest.String(), 200}, // what docker runs
	}
	for _, s := range steps {
		if got := e.getAs(s.user, s.repo, s.ref); got != s.status {
			t.Fatalf("GET %s:%s as %q = %d; want %d", s.repo, s.ref, s.user, got, s.status)
		}
	}
	wantStatus(t, "HEAD", e.manifest(http.MethodHead, "quar/clean", "1"), 200, "")

	if got := e.pulls(); len(got) != 0 {
		t.Errorf("pull entries before the batch filled or Close = %d; want none written yet", len(got))
	}
	if err := pl.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []pullKey{
		{"alice", "pull", "docker.io/quar/clean", clean.manifest, "127.0.0.1", "allow"},
		{"anonymous", "pull", "docker.io/quar/clean", clean.manifest, "127.0.0.1", "allow"},
		{"bob", "pull-denied", "docker.io/quar/evil", evil.manifest, "127.0.0.1", "quarantine"},
		{"alice", "pull", "docker.io/off/app", off.manifest, "127.0.0.1", "off"},
		{"alice", "pull", "docker.io/audit/deb", audited.manifest, "127.0.0.1", "audit"},
		{"carol", "pull", "docker.io/quar/multi", amdDigest, "127.0.0.1", "allow"},
	}
	if diff := cmpDiff(keysOf(e.pulls()), want); diff != "" {
		t.Errorf("pull log after Close (-got +want):\n%s", diff)
	}
	if entries := e.pulls(); len(entries) > 0 && entries[0].Details != "tag=1" {
		t.Errorf("details of a pull by tag = %q; want tag=1", entries[0].Details)
	}
	// The quarantine record names the user who asked first and where from.
	recs, err := e.fw.List(t.Context(), firewall.Filter{Digest: evil.manifest}, 0, 0)
	if err != nil || len(recs) != 1 || recs[0].RequestedBy != "bob" || recs[0].RequestedFrom != "127.0.0.1" {
		t.Errorf("quarantine record = %+v, %v; want requested by bob from 127.0.0.1", recs, err)
	}
	if len(recs) == 1 && (recs[0].Severity != "critical" || recs[0].MaxScore != 0) {
		t.Errorf("record severity, score = %q, %v; want critical for malware, no score", recs[0].Severity, recs[0].MaxScore)
	}
	// Closed, the log takes no more.
	e.getAs("alice", "quar/clean", "1")
	if n := pl.Dropped(); n != 1 {
		t.Errorf("Dropped after a pull past Close = %d; want 1", n)
	}
}

// TestPullLogFirewallOff logs pulls with no gate at all, as a listener
// with the firewall off everywhere does.
func TestPullLogFirewallOff(t *testing.T) {
	e := newEnv(t)
	pl := e.pullLog(1000)
	e.servePulls(nil, pl)
	img := e.push("quar/clean:1", image(t, cleanFiles, "amd64", "off everywhere"))
	if got := e.getAs("dave", "quar/clean", "1"); got != 200 {
		t.Fatalf("GET = %d; want 200", got)
	}
	pl.Close()
	want := []pullKey{{"dave", "pull", "docker.io/quar/clean", img.manifest, "127.0.0.1", "off"}}
	if diff := cmpDiff(keysOf(e.pulls()), want); diff != "" {
		t.Errorf("pull log (-got +want):\n%s", diff)
	}
}

// recordingStore counts the pull log's batch writes and can hold them.
type recordingStore struct {
	store.Firewall
	mu      sync.Mutex
	batches []int
	hold    chan struct{}
	fail    bool
}

func (s *recordingStore) AppendAudits(ctx context.Context, entries []store.AuditEntry) error {
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("disk full")
	}
	s.batches = append(s.batches, len(entries))
	return nil
}

func (s *recordingStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// pulled feeds one pull to pl as a registry would.
func pulled(pl *firewall.PullLog, i int) {
	ctx := firewall.WithRequester(context.Background(), firewall.Requester{User: "u", Address: "10.0.0.1"})
	m := &cache.Manifest{Descriptor: oci.Descriptor{MediaType: oci.MediaTypeOCIManifest, Digest: digest.FromString(string(rune('a' + i)))}}
	pl.Pulled(ctx, cache.Repo{Upstream: "docker.io", Path: "library/x"}, oci.Reference{Tag: "1"}, m, nil)
}

// TestPullLogBatches checks that entries are written in batches of at
// most Batch, the rest on Close, and that a full buffer or a failed write
// drops entries and counts them rather than blocking pulls.
func TestPullLogBatches(t *testing.T) {
	t.Run("batches and close", func(t *testing.T) {
		st := &recordingStore{}
		pl, err := firewall.NewPullLog(firewall.PullLogOptions{Store: st, Batch: 3, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			pulled(pl, i)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(st.sizes()) < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := st.sizes(); !slices.Equal(got, []int{3, 3}) {
			t.Errorf("batches before Close = %v; want [3 3]", got)
		}
		pl.Close()
		pl.Close() // idempotent
		if got := st.sizes(); !slices.Equal(got, []int{3, 3, 1}) {
			t.Errorf("batches after Close = %v; want [3 3 1]", got)
		}
		if pl.Dropped() != 0 {
			t.Errorf("Dropped = %d; want 0", pl.Dropped())
		}
	})
	t.Run("interval", func(t *testing.T) {
		st := &recordingStore{}
		pl, err := firewall.NewPullLog(firewall.PullLogOptions{Store: st, Batch: 100, Interval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		pulled(pl, 0)
		deadline := time.Now().Add(5 * time.Second)
		for len(st.sizes()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := st.sizes(); !slices.Equal(got, []int{1}) {
			t.Errorf("batches after the interval = %v; want [1]", got)
		}
	})
	t.Run("full buffer drops", func(t *testing.T) {
		st := &recordingStore{hold: make(chan struct{})}
		pl, err := firewall.NewPullLog(firewall.PullLogOptions{Store: st, Buffer: 2, Batch: 1, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		// The writer takes one entry and blocks writing it; two more fill
		// the buffer; the rest are dropped at once.
		done := make(chan struct{})
		go func() {
			for i := range 10 {
				pulled(pl, i)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("pulls blocked on a full pull log")
		}
		if n := pl.Dropped(); n < 7 || n > 8 {
			t.Errorf("Dropped = %d; want 7 or 8 of 10 with a buffer of 2", n)
		}
		close(st.hold)
		pl.Close()
		written := 0
		for _, n := range st.sizes() {
			written += n
		}
		if uint64(written)+pl.Dropped() != 10 {
			t.Errorf("written %d + dropped %d; want 10", written, pl.Dropped())
		}
	})
	t.Run("failed write counts", func(t *testing.T) {
		st := &recordingStore{fail: true}
		pl, err := firewall.NewPullLog(firewall.PullLogOptions{Store: st, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		pulled(pl, 0)
		pulled(pl, 1)
		pl.Close()
		if pl.Dropped() != 2 {
			t.Errorf("Dropped after a failed write = %d; want 2", pl.Dropped())
		}
	})
}

// TestExposure asks which images carry a vulnerability and who pulled
// them.
func TestExposure(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	pl := e.pullLog(1000)
	e.servePulls(e.fw, pl)
	audited := e.push("audit/deb:12", image(t, debianFiles, "amd64", "exposure audit"))
	held := e.push("quar/deb:12", image(t, debianFiles, "amd64", "exposure held"))
	e.push("quar/clean:1", image(t, cleanFiles, "amd64", "exposure clean"))
	for _, s := range []struct {
		user, repo, ref string
		status          int
	}{
		{"alice", "audit/deb", "12", 200},
		{"alice", "audit/deb", "12", 200},
		{"bob", "audit/deb", "12", 200},
		{"bob", "quar/deb", "12", 404},
		{"bob", "quar/clean", "1", 200},
	} {
		if got := e.getAs(s.user, s.repo, s.ref); got != s.status {
			t.Fatalf("GET %s:%s as %s = %d; want %d", s.repo, s.ref, s.user, got, s.status)
		}
	}
	pl.Close()

	for _, id := range []string{"CVE-2099-1234", "cve-2099-1234"} {
		got, err := e.fw.Exposure(t.Context(), id)
		if err != nil || len(got) != 2 {
			t.Fatalf("Exposure(%s) = %+v, %v; want two images", id, got, err)
		}
		a, q := got[0], got[1]
		if a.Repo != "docker.io/audit/deb" || a.Digest != audited.manifest || a.Result != "audit" || !a.Served || a.Tag != "12" {
			t.Errorf("first exposure = %+v; want the audited image, served, tag 12", a)
		}
		if q.Repo != "docker.io/quar/deb" || q.Digest != held.manifest || q.Result != "quarantine" || q.Served || q.Tag != "12" {
			t.Errorf("second exposure = %+v; want the quarantined image, withheld, tag 12", q)
		}
		wantFinding := firewall.ExposedFinding{ID: "CVE-2099-1234", Ecosystem: "Debian:12", Installed: "3.0.15-1~deb12u1",
			Fixed: "3.0.16-1~deb12u1", Score: 9.8, Severity: "critical"}
		if len(a.Findings) != 1 {
			t.Fatalf("findings = %+v; want one", a.Findings)
		}
		f := a.Findings[0]
		f.Package, f.Aliases = "", nil
		if diff := cmpDiff(f, wantFinding); diff != "" || a.Findings[0].Package == "" {
			t.Errorf("finding %+v (-got +want):\n%s", a.Findings[0], diff)
		}
		var pulls []string
		for _, p := range a.Pulls {
			pulls = append(pulls, p.User+":"+p.Client+":"+itoa(p.Count)+":"+itoa(p.Denied))
		}
		slices.Sort(pulls)
		if !slices.Equal(pulls, []string{"alice:127.0.0.1:2:0", "bob:127.0.0.1:1:0"}) {
			t.Errorf("pulls of the audited image = %v; want alice twice, bob once", pulls)
		}
		if len(q.Pulls) != 1 || q.Pulls[0].User != "bob" || q.Pulls[0].Count != 0 || q.Pulls[0].Denied != 1 {
			t.Errorf("pulls of the withheld image = %+v; want bob denied once", q.Pulls)
		}
	}
	if got, err := e.fw.Exposure(t.Context(), "CVE-1999-0001"); err != nil || len(got) != 0 {
		t.Errorf("Exposure of an id nobody carries = %+v, %v; want none", got, err)
	}
	if _, err := e.fw.Exposure(t.Context(), " "); !errors.Is(err, firewall.ErrInvalid) {
		t.Errorf("Exposure of an empty id = %v; want ErrInvalid", err)
	}

	// Violations: per repository, by result, audit mode included.
	vs, err := e.fw.Violations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	for _, v := range vs {
		counts[v.Repo] = itoa(v.Allow) + "/" + itoa(v.Audit) + "/" + itoa(v.Quarantine) + "/" + itoa(v.InspectionFailed)
		if (v.Audit > 0 || v.Quarantine > 0) && v.LastViolation.IsZero() {
			t.Errorf("%s has violations but no time of the latest", v.Repo)
		}
	}
	want := map[string]string{
		"docker.io/audit/deb":  "0/1/0/0",
		"docker.io/quar/deb":   "0/0/1/0",
		"docker.io/quar/clean": "1/0/0/0",
	}
	if diff := cmpDiff(counts, want); diff != "" {
		t.Errorf("Violations allow/audit/quarantine/failed (-got +want):\n%s", diff)
	}
}

// TestQuarantineFilters lists records by policy and severity.
func TestQuarantineFilters(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	evil := e.push("quar/evil:1", image(t, malwareFiles, "amd64", "filters evil"))
	deb := e.push("quar/deb:12", image(t, debianFiles, "amd64", "filters deb"))
	wantStatus(t, "evil", e.manifest("GET", "quar/evil", "1"), 404, "")
	wantStatus(t, "deb", e.manifest("GET", "quar/deb", "12"), 404, "")
	tests := []struct {
		filter firewall.Filter
		want   []digest.Digest
	}{
		{firewall.Filter{Policy: "malware"}, []digest.Digest{evil.manifest}},
		{firewall.Filter{Policy: "cvss-8"}, []digest.Digest{deb.manifest}},
		{firewall.Filter{MinSeverity: "critical", Sort: store.SortScore}, []digest.Digest{deb.manifest, evil.manifest}},
	}
	for _, tt := range tests {
		recs, err := e.fw.List(t.Context(), tt.filter, 0, 0)
		var got []digest.Digest
		for _, r := range recs {
			got = append(got, r.Digest)
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("List(%+v) = %v, %v; want %v", tt.filter, got, err, tt.want)
		}
		if n, err := e.fw.Count(t.Context(), tt.filter); err != nil || n != len(tt.want) {
			t.Errorf("Count(%+v) = %d, %v; want %d", tt.filter, n, err, len(tt.want))
		}
	}
	if _, err := e.fw.List(t.Context(), firewall.Filter{MinSeverity: "dire"}, 0, 0); !errors.Is(err, firewall.ErrInvalid) {
		t.Errorf("List with an unknown severity = %v; want ErrInvalid", err)
	}
}

// TestSetPolicies replaces the policies at run time, checks that the
// change is judged, audited and kept across a new Firewall on the same
// store, and that a reset brings the configuration's back.
func TestSetPolicies(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	evil := e.push("quar/evil:1", image(t, malwareFiles, "amd64", "policies evil"))
	wantStatus(t, "evil under the default policies", e.manifest("GET", "quar/evil", "1"), 404, "")

	if err := e.fw.SetPolicies(t.Context(), policy.Set{{Name: "Bad Name", Action: "explode"}}, "alice"); !errors.Is(err, firewall.ErrInvalid) {
		t.Errorf("SetPolicies of an invalid set = %v; want ErrInvalid", err)
	}
	if e.fw.PoliciesSetAtRunTime() || len(e.fw.Policies()) != len(policy.Default()) {
		t.Errorf("an invalid set changed the policies in force: %+v", e.fw.Policies())
	}

	// Only findings in openssl fail now: the malware image passes on re-judging.
	noOpenSSL := policy.Set{{Name: "no-openssl", Conditions: policy.Conditions{Packages: []policy.Package{{Name: "openssl"}}}, Action: policy.ActionFail}}
	if err := e.fw.SetPolicies(t.Context(), noOpenSSL, "alice"); err != nil {
		t.Fatalf("SetPolicies: %v", err)
	}
	if _, err := e.fw.Reevaluate(t.Context()); err != nil {
		t.Fatalf("Reevaluate: %v", err)
	}
	wantStatus(t, "evil after the change", e.manifest("GET", "quar/evil", "1"), 200, "")
	entries, err := e.fw.Audit(t.Context(), store.AuditFilter{Action: firewall.ActionPoliciesUpdated}, 0, 0)
	if err != nil || len(entries) != 1 || entries[0].Actor != "alice" || entries[0].Details != "policies=no-openssl" {
		t.Errorf("policies-updated entries = %+v, %v; want one by alice", entries, err)
	}

	// A new firewall on the same store keeps them over its Options.
	e.fw.Close()
	e.start(testSettings())
	if got := e.fw.Policies(); !e.fw.PoliciesSetAtRunTime() || len(got) != 1 || got[0].Name != "no-openssl" {
		t.Errorf("policies after a restart = %+v; want the ones set at run time", got)
	}
	deb := e.push("quar/deb:12", image(t, debianFiles, "amd64", "policies deb"))
	wantStatus(t, "openssl image after the restart", e.manifest("GET", "quar/deb", "12"), 404, "")
	if recs, _ := e.fw.List(t.Context(), firewall.Filter{Digest: deb.manifest}, 0, 0); len(recs) != 1 || recs[0].Policies[0] != "no-openssl" {
		t.Errorf("records of the openssl image = %+v; want one by no-openssl", recs)
	}

	if err := e.fw.ResetPolicies(t.Context(), "bob"); err != nil {
		t.Fatalf("ResetPolicies: %v", err)
	}
	e.fw.Close()
	e.start(testSettings())
	if e.fw.PoliciesSetAtRunTime() || len(e.fw.Policies()) != len(policy.Default()) {
		t.Errorf("policies after reset and restart = %+v; want the configuration's", e.fw.Policies())
	}
	// Served meanwhile, the image stays served, its violation audited.
	if _, err := e.fw.Reevaluate(t.Context()); err != nil {
		t.Fatalf("Reevaluate: %v", err)
	}
	if j, err := e.fw.Verdict(t.Context(), "docker.io/quar/evil", evil.manifest); err != nil || j.Result != policy.ResultAudit {
		t.Errorf("verdict of the served malware image after the reset = %v, %v; want audit", j.Result, err)
	}
}

func cmpDiff(got, want any) string { return cmp.Diff(got, want) }

func itoa(n int) string { return strconv.Itoa(n) }
