//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"breakwater/test/harness"
)

// chromiumPath is Debian's chromium, which scripts/test installs.
const chromiumPath = "/usr/bin/chromium"

// TestDashboardReleaseDocker drives the dashboard in headless Chromium
// against breakwater as it runs by default, with anonymous pulls off. The
// first admin signs in with the password serve wrote and must change it,
// makes an API token (its secret shown once) and logs docker in with it.
// Docker's pull of an image holding a malicious npm package is withheld;
// the admin finds the record in the quarantine list, adds a note, releases
// the image with a reason and a confirmation, and docker's next pull
// succeeds. The overview then shows the pulls. Screenshots of the overview
// and the detail page are written to $BREAKWATER_E2E_ARTIFACTS (or a
// temporary directory) as overview.png and quarantine-detail.png.
func TestDashboardReleaseDocker(t *testing.T) {
	e := newFWEnv(t, "")
	img := maliciousNPM(t)
	imgDigest := harness.Digest(t, img).String()
	e.up.Push(t, "library/evil", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := harness.StartBreakwater(t, harness.BreakwaterOptions{
		DataDir: e.data, Config: e.config, Env: e.env(), Firewall: "quarantine", AccessControl: true,
	})
	noFeeds(t, bw)
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/evil", "1")
	// Without a login the guard refuses docker before the firewall or the
	// upstream sees anything.
	if err := d.PullErr(ref, ""); err == nil || !strings.Contains(strings.ToLower(err.Error()), "auth") {
		t.Fatalf("anonymous docker pull %s: %v, want an authentication error", ref, err)
	}

	first := waitFile(t, filepath.Join(e.data, "admin.password"))
	ctx := browserContext(t)
	artifacts := artifactDir(t)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Signed out, the dashboard sends the browser to the login form.
	step("open the dashboard", chromedp.Navigate(bw.URL+"/"), chromedp.WaitVisible(chromedp.ID("password")))
	waitLocation(t, ctx, "/ui/login?next=")
	step("sign in with the first password",
		chromedp.SendKeys(chromedp.ID("user"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), first),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
	)
	waitLocation(t, ctx, "/ui/password")
	// Any other page leads back here until the password is changed.
	step("try the quarantine list first", chromedp.Navigate(bw.URL+"/ui/quarantine"))
	waitLocation(t, ctx, "/ui/password")
	const newPassword = "dashboard-e2e-password"
	step("change the first password",
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.SendKeys(chromedp.ID("password"), newPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), newPassword),
		chromedp.Click(chromedp.CSS(`main form button[type="submit"]`)),
	)
	waitLocation(t, ctx, "/ui/?done=password")
	step("wait for the overview's charts", chromedp.WaitVisible(chromedp.CSS("figure.chart svg")))
	// The embedded stylesheet and script load under the CSP.
	if bg := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("header.top")).backgroundColor`); bg != "rgb(15, 23, 42)" {
		t.Errorf("header background %q: the stylesheet did not load", bg)
	}
	if n := evaluate[int](t, ctx, `document.querySelectorAll("th.js-sort").length`); n == 0 {
		t.Error("no table header was made sortable: the script did not run")
	}

	step("make an API token for docker",
		chromedp.Navigate(bw.URL+"/ui/tokens"),
		chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "e2e-docker"),
		chromedp.Click(chromedp.CSS(`#new-token button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("secret")),
	)
	secret := value(t, ctx, "#secret")
	if !strings.HasPrefix(secret, "bw_") {
		t.Fatalf("the token's secret %q is not shown", secret)
	}
	step("list the tokens again", chromedp.Navigate(bw.URL+"/ui/tokens"), chromedp.WaitVisible(chromedp.CSS("main table")))
	if page := text(t, ctx, "main"); strings.Contains(page, secret) || !strings.Contains(page, "e2e-docker") {
		t.Error("the token list shows the secret again, or not the token")
	}
	d.Login(t, bw.Host, "admin", secret)
	if err := d.PullErr(ref, ""); err == nil {
		t.Fatalf("docker pull %s succeeded, want it withheld", ref)
	}

	step("open the quarantine list",
		chromedp.Navigate(bw.URL+"/ui/quarantine"),
		chromedp.WaitVisible(chromedp.CSS(`#records a[href^="/ui/quarantine/"]`)),
	)
	list := text(t, ctx, "#records")
	if !strings.Contains(list, "docker.io/library/evil") || !strings.Contains(list, "malware") {
		t.Fatalf("quarantine list does not show the withheld image:\n%s", list)
	}
	step("open the record",
		chromedp.Click(chromedp.CSS(`#records a[href^="/ui/quarantine/"]`)),
		chromedp.WaitVisible(chromedp.ID("findings")),
	)
	if got := text(t, ctx, "#digest"); got != imgDigest {
		t.Errorf("detail page shows digest %q, want %q", got, imgDigest)
	}
	if facts := text(t, ctx, "section.facts"); !strings.Contains(facts, "by admin") {
		t.Errorf("the record does not say the admin asked for the image:\n%s", facts)
	}
	if findings := text(t, ctx, "#findings"); !strings.Contains(findings, "MAL-2025-46974") || !strings.Contains(findings, "debug") {
		t.Errorf("findings table does not name MAL-2025-46974 in debug:\n%s", findings)
	}
	if fired := text(t, ctx, "#fired"); !strings.Contains(fired, "malware") || !strings.Contains(fired, "MAL-2025-46974") {
		t.Errorf("the fired policies do not name malware and its finding:\n%s", fired)
	}
	shoot(t, ctx, filepath.Join(artifacts, "quarantine-detail.png"))

	step("add a note",
		chromedp.SendKeys(chromedp.ID("note"), "checked by the e2e test"),
		chromedp.Click(chromedp.CSS(`#note-form button`)),
	)
	waitLocation(t, ctx, "done=note")
	if notes := text(t, ctx, "ul.notes"); !strings.Contains(notes, "checked by the e2e test") {
		t.Errorf("the note is not listed:\n%s", notes)
	}

	// The browser itself refuses to send the release unconfirmed.
	step("try to release without confirming",
		chromedp.SendKeys(chromedp.ID("release-reason"), "e2e: the test package is vetted"),
		chromedp.Click(chromedp.CSS(`#release-form button`)),
	)
	if valid := evaluate[bool](t, ctx, `document.getElementById("release-form").checkValidity()`); valid {
		t.Error("the release form is valid without the confirmation ticked")
	}
	step("release the image",
		chromedp.Click(chromedp.ID("release-confirm")),
		chromedp.Click(chromedp.CSS(`#release-form button`)),
	)
	waitLocation(t, ctx, "done=released")
	if facts := text(t, ctx, "section.facts"); !strings.Contains(facts, "released") || !strings.Contains(facts, "e2e: the test package is vetted") {
		t.Errorf("the record does not say released, by whom and why:\n%s", facts)
	}

	// The release is in force for docker at once.
	d.Pull(t, ref, "")
	if got := repoDigest(t, d.RepoDigests(t, ref), bw.Host+"/library/evil"); got != imgDigest {
		t.Errorf("docker pulled %s, want %s", got, imgDigest)
	}
	// The audit log has the release with its reason, and the pull under
	// the admin's name once the pull log's batch is written.
	var released, pulled bool
	for deadline := time.Now().Add(30 * time.Second); !pulled && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var entries []struct{ Actor, Action, Details string }
		out := e.mustCLI(t, "audit", "--repo", "docker.io/library/evil", "--format", "json")
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatalf("audit JSON: %v", err)
		}
		for _, en := range entries {
			released = released || en.Action == "released" && en.Actor == "admin" && strings.Contains(en.Details, "e2e: the test package is vetted")
			pulled = pulled || en.Action == "pull" && en.Actor == "admin"
		}
	}
	if !released || !pulled {
		t.Errorf("the audit log has the admin's release with its reason: %v, the admin's pull: %v", released, pulled)
	}

	// The hourly statistics are written every 30 seconds; the overview
	// shows the pulls once they are.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		step("open the overview", chromedp.Navigate(bw.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("figure.chart svg")))
		if n := evaluate[int](t, ctx, `parseInt(document.querySelector(".tiles .tile .n").textContent)`); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the overview shows no pulls after two minutes:\n%s", text(t, ctx, "main"))
		}
		time.Sleep(2 * time.Second)
	}
	if ups := text(t, ctx, "#upstreams"); !strings.Contains(ups, "docker.io") || !strings.Contains(ups, "up") {
		t.Errorf("the overview does not show the upstream up:\n%s", ups)
	}
	shoot(t, ctx, filepath.Join(artifacts, "overview.png"))
}

// browserContext starts headless Chromium with a fresh profile, talking
// to nothing but the pages the test opens.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium: %v (scripts/test installs it)", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("window-size", "1280,900"),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// waitLocation waits until the page's URL contains want.
func waitLocation(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var loc string
	for time.Now().Before(deadline) {
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err == nil {
			loc = l
			if strings.Contains(loc, want) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("browser at %q, want a URL containing %q; the page says:\n%s", loc, want, body)
}

// text is the visible text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// value is the value of the first input matching a CSS selector.
func value(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read the value of %s: %v", sel, err)
	}
	return s
}

// evaluate runs a JavaScript expression in the page (through the
// DevTools protocol, which the page's CSP does not govern).
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// shoot writes a full-page PNG screenshot to path and checks that it is
// a page and not a blank: it decodes, is at least 800x600, and a good
// share of it differs from the background in more than a few colours.
func shoot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	b, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s is no PNG: %v", path, err)
	}
	r := img.Bounds()
	if r.Dx() < 800 || r.Dy() < 600 {
		t.Errorf("screenshot %s is %dx%d, want a page of at least 800x600", path, r.Dx(), r.Dy())
	}
	bg := img.At(r.Max.X-1, r.Max.Y-1)
	colors := map[[3]uint32]bool{}
	inked, total := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			c := img.At(x, y)
			cr, cg, cb, _ := c.RGBA()
			colors[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = true
			if c != bg {
				inked++
			}
			total++
		}
	}
	if len(colors) < 16 || inked*20 < total {
		t.Errorf("screenshot %s looks blank: %d colours, %d of %d sampled pixels differ from the background", path, len(colors), inked, total)
	}
	t.Logf("screenshot %s (%dx%d, %d bytes, %d colours)", path, r.Dx(), r.Dy(), len(b), len(colors))
}

// artifactDir is $BREAKWATER_E2E_ARTIFACTS, or a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BREAKWATER_E2E_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitFile waits for serve to write a file and returns its trimmed text.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve wrote no %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
