//go:build e2e

package e2e

import (
	"bytes"
	"context"
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

// TestDashboardReleaseDocker drives the dashboard in headless Chromium:
// docker's pull of an image holding a malicious npm package is withheld;
// the first admin signs in with the password serve wrote, must change it,
// finds the record in the quarantine list, adds a note, releases the image
// with a reason and a confirmation, and docker's next pull succeeds. It
// writes screenshots of the overview and the detail page.
func TestDashboardReleaseDocker(t *testing.T) {
	e := newFWEnv(t, "")
	img := maliciousNPM(t)
	imgDigest := harness.Digest(t, img).String()
	e.up.Push(t, "library/evil", "1", img)
	e.importRecords(t, vulnTestdata(t, "osv", "malicious", "npm"))
	bw := e.serve(t, "quarantine")
	d := harness.StartDockerd(t, harness.DockerdOptions{})
	ref := bw.Ref("library/evil", "1")
	if err := d.PullErr(ref, ""); err == nil {
		t.Fatalf("docker pull %s succeeded, want it withheld", ref)
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
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
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
	shoot(t, ctx, filepath.Join(artifacts, "overview.png"))

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
	if findings := text(t, ctx, "#findings"); !strings.Contains(findings, "MAL-2025-46974") || !strings.Contains(findings, "debug") {
		t.Errorf("findings table does not name MAL-2025-46974 in debug:\n%s", findings)
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

	step("release the image",
		chromedp.SendKeys(chromedp.ID("release-reason"), "e2e: the test package is vetted"),
		chromedp.Click(chromedp.ID("release-confirm")),
		chromedp.Click(chromedp.CSS(`#release-form button`)),
	)
	waitLocation(t, ctx, "done=released")
	if facts := text(t, ctx, "section.facts"); !strings.Contains(facts, "released") {
		t.Errorf("the record does not say released:\n%s", facts)
	}

	// The release is in force for docker at once.
	d.Pull(t, ref, "")
	if got := repoDigest(t, d.RepoDigests(t, ref), bw.Host+"/library/evil"); got != imgDigest {
		t.Errorf("docker pulled %s, want %s", got, imgDigest)
	}
	audit := e.mustCLI(t, "audit", "--repo", "docker.io/library/evil", "--format", "json")
	if !strings.Contains(audit, "e2e: the test package is vetted") {
		t.Error("the audit log has no release with the reason given in the dashboard")
	}
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

// shoot writes a full-page PNG screenshot to path and checks it decodes
// as a PNG with pixels.
func shoot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
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
	if r := img.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
		t.Errorf("screenshot %s is %dx%d, want a page", path, r.Dx(), r.Dy())
	}
	t.Logf("screenshot %s (%d bytes)", path, len(b))
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
