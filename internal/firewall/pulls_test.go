package firewall_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"breakwater/internal/firewall"
	"breakwater/internal/policy"
)

// TestConcurrentFirstPulls checks that first pulls arriving together share
// one inspection and all get its verdict.
func TestConcurrentFirstPulls(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := e.push("quar/busy:1", image(t, malwareFiles, "amd64", "busy"))

	// Hold the layer at the upstream until every client has asked.
	const clients = 8
	hold := make(chan struct{})
	e.up.mu.Lock()
	e.up.hold = hold
	e.up.mu.Unlock()
	var arrived sync.WaitGroup
	arrived.Add(clients)
	inner := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		inner.ServeHTTP(w, r)
	})

	statuses := make([]int, clients)
	var done sync.WaitGroup
	for i := range clients {
		done.Add(1)
		go func() {
			defer done.Done()
			statuses[i] = e.manifest("GET", "quar/busy", "1").status
		}()
	}
	arrived.Wait()
	close(hold)
	done.Wait()

	for i, s := range statuses {
		if s != 404 {
			t.Errorf("client %d got %d, want 404", i, s)
		}
	}
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
	if n := e.inspections.Load(); n != 1 {
		t.Errorf("inspections = %d, want 1", n)
	}
	if n := e.up.count("GET /v2/quar/busy/blobs/" + img.layers[0].String()); n != 1 {
		t.Errorf("upstream layer GETs = %d, want 1", n)
	}
}

// TestWaitTimeout checks that a pull waiting past Wait gets a retryable
// 429 while inspection goes on, and a later try the verdict.
func TestWaitTimeout(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings(), func(o *firewall.Options) { o.Wait = 10 * time.Millisecond })
	img := e.push("quar/slow:1", image(t, malwareFiles, "amd64", "slow"))

	hold := make(chan struct{})
	e.up.mu.Lock()
	e.up.hold = hold
	e.up.mu.Unlock()

	r := e.manifest("GET", "quar/slow", "1")
	wantStatus(t, "first pull", r, http.StatusTooManyRequests, "TOOMANYREQUESTS")
	if r.msg != "image is being inspected, retry later" || r.header.Get("Retry-After") == "" {
		t.Errorf("message %q, Retry-After %q; want the inspection message and a Retry-After", r.msg, r.header.Get("Retry-After"))
	}
	close(hold)

	// The inspection goes on without the client; poll for its verdict,
	// bounded in count, not asserting how long it takes.
	for i := 0; i < 3000 && len(e.audit(img.manifest, firewall.ActionJudged)) == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	wantStatus(t, "next pull", e.manifest("GET", "quar/slow", "1"), 404, "MANIFEST_UNKNOWN")
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
}

// TestNotReady checks the firewall before any vulnerability data exists.
func TestNotReady(t *testing.T) {
	e := newEnv(t)
	e.start(testSettings())
	if err := e.fw.Ready(t.Context()); !errors.Is(err, firewall.ErrNotReady) {
		t.Errorf("Ready = %v, want ErrNotReady", err)
	}
	early := image(t, cleanFiles, "amd64", "early")
	img := e.push("quar/early:1", early)
	e.push("audit/early:1", early)

	r := e.manifest("GET", "quar/early", "1")
	wantStatus(t, "quarantine repo", r, 503, "UNAVAILABLE")
	if r.msg != "vulnerability data not loaded" {
		t.Errorf("message = %q, want vulnerability data not loaded", r.msg)
	}
	wantStatus(t, "audit repo", e.manifest("GET", "audit/early", "1"), 200, "")
	wantStatus(t, "audit repo again", e.manifest("GET", "audit/early", "1"), 200, "")
	wantStatus(t, "audit repo layer", e.blob("GET", "audit/early", img.layers[0]), 200, "")
	if n := len(e.audit(img.manifest, firewall.ActionNotInspected)); n != 1 {
		t.Errorf("not-inspected entries = %d, want 1", n)
	}

	// Once data is loaded the image is judged.
	e.load("feeds", malRecord)
	if err := e.fw.Ready(t.Context()); err != nil {
		t.Errorf("Ready after load = %v", err)
	}
	wantStatus(t, "quarantine repo after load", e.manifest("GET", "quar/early", "1"), 200, "")

	// The image the audit repository served unjudged is judged by the
	// re-evaluation that follows a load, without another pull.
	if _, err := e.fw.Reevaluate(t.Context()); err != nil {
		t.Fatalf("Reevaluate: %v", err)
	}
	j, err := e.fw.Verdict(t.Context(), "docker.io/audit/early", img.manifest)
	if err != nil || j.Result != policy.ResultAllow {
		t.Errorf("verdict of the image served unjudged = %+v, %v; want allow", j, err)
	}
}

// TestCachedBeforeFirewall checks that an image cached while the firewall
// was off is audited, not quarantined.
func TestCachedBeforeFirewall(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)

	// An admin command run while the firewall is off does not turn it on.
	admin, err := firewall.New(firewall.Options{Meta: e.meta, Store: e.meta, Blobs: e.blobs, Settings: testSettings()})
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()

	old := e.push("quar/old:1", image(t, malwareFiles, "amd64", "old"))
	e.serve(nil)
	wantStatus(t, "pull without firewall", e.manifest("GET", "quar/old", "1"), 200, "")

	e.clock.set(time.Now()) // the firewall starts after the pull
	e.start(testSettings())
	fresh := e.push("quar/new:1", image(t, malwareFiles, "amd64", "new"))

	wantStatus(t, "cached before", e.manifest("GET", "quar/old", "1"), 200, "")
	wantStatus(t, "cached before, layer", e.blob("GET", "quar/old", old.layers[0]), 200, "")
	wantStatus(t, "cached after", e.manifest("GET", "quar/new", "1"), 404, "MANIFEST_UNKNOWN")
	judged := e.audit(old.manifest, firewall.ActionJudged)
	if len(judged) != 1 || !strings.Contains(judged[0].Details, "cached_before_firewall=true") {
		t.Errorf("judged = %+v, want one marked cached before the firewall", judged)
	}
	if len(e.audit(fresh.manifest, firewall.ActionQuarantined)) != 1 {
		t.Errorf("new image not quarantined")
	}
}

// TestModeOverride checks that a whole-firewall mode override reaches
// every repository.
func TestModeOverride(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings().WithMode(policy.ModeAudit))
	img := e.push("quar/any:1", image(t, malwareFiles, "amd64", "override"))
	wantStatus(t, "audit everywhere", e.manifest("GET", "quar/any", "1"), 200, "")

	// Restarted in quarantine mode the image is judged by its verdict.
	e.fw.Close()
	e.start(testSettings())
	wantStatus(t, "quarantine again", e.manifest("GET", "quar/any", "1"), 200, "")

	// An image withheld in quarantine mode is served once the mode is audit.
	other := e.push("quar/other:1", image(t, malwareFiles, "amd64", "override other"))
	wantStatus(t, "quarantined", e.manifest("GET", "quar/other", "1"), 404, "MANIFEST_UNKNOWN")
	e.fw.Close()
	e.start(testSettings().WithMode(policy.ModeAudit))
	wantStatus(t, "withheld image under audit", e.manifest("GET", "quar/other", "1"), 200, "")
	wantStatus(t, "its layer", e.blob("GET", "quar/other", other.layers[0]), 200, "")
	if n := len(e.audit(img.manifest, firewall.ActionJudged)); n != 1 {
		t.Errorf("judged %d times, want once", n)
	}
}

// TestUpstreamFailsDuringInspection checks that an inspection that cannot
// read the layers leaves no verdict: a quarantine repository answers 503,
// an audit one serves, and the next pull after the upstream recovers is
// judged.
func TestUpstreamFailsDuringInspection(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "trouble")
	p := e.push("quar/trouble:1", img)
	e.push("audit/trouble:1", img)

	e.up.mu.Lock()
	e.up.failBlobs = true
	e.up.mu.Unlock()
	r := e.manifest("GET", "quar/trouble", "1")
	wantStatus(t, "quarantine repo", r, 503, "UNAVAILABLE")
	if r.msg != "image could not be inspected, retry later" {
		t.Errorf("message = %q, want the retry message", r.msg)
	}
	wantStatus(t, "audit repo", e.manifest("GET", "audit/trouble", "1"), 200, "")
	if n := len(e.audit(p.manifest, firewall.ActionNotInspected)); n != 1 {
		t.Errorf("not-inspected entries = %d, want 1", n)
	}
	if n := len(e.audit(p.manifest, firewall.ActionJudged)); n != 0 {
		t.Errorf("judged %d times while the upstream failed, want never", n)
	}

	if _, err := e.fw.Reevaluate(t.Context()); err == nil {
		t.Errorf("Reevaluate while the upstream fails = nil, want the image it could not judge")
	}

	e.up.mu.Lock()
	e.up.failBlobs = false
	e.up.mu.Unlock()
	wantStatus(t, "after recovery", e.manifest("GET", "quar/trouble", "1"), 404, "MANIFEST_UNKNOWN")
	if n, err := e.fw.Reevaluate(t.Context()); err != nil || n != 1 {
		t.Errorf("Reevaluate after recovery = %d, %v; want the audited image judged", n, err)
	}
	j, err := e.fw.Verdict(t.Context(), "docker.io/audit/trouble", p.manifest)
	if err != nil || j.Result != policy.ResultAudit {
		t.Errorf("verdict in the audit repository = %+v, %v; want audit", j.Result, err)
	}
}
