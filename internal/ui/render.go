package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"breakwater/internal/telemetry"
)

// pages are the parsed templates, one set per page: the layout plus the
// page's own "content".
type pages map[string]*template.Template

type navItem struct {
	Href, Label string
	Current     bool
}

// view is what every page template gets.
type view struct {
	Title string
	// Nav names the menu entry to mark as current.
	Nav   string
	V     visitor
	Flash string
	Error string
	// Problems are listed under Error, one item each.
	Problems []string
	Data     any
}

var funcs = template.FuncMap{
	"when":  fmtTime,
	"ago":   ago,
	"bytes": fmtBytes,
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"dur":   fmtDuration,
	"secs":  func(s float64) string { return fmtDuration(time.Duration(s * float64(time.Second))) },
	"join":  strings.Join,
	"short": shortDigest,
	"sev":   severityClass,
	"half":  func(n int) int { return n / 2 },
	"json":  compactJSON,
	"navItem": func(href, label, name, current string) navItem {
		return navItem{Href: href, Label: label, Current: name == current}
	},
	"score": func(f float64, scored bool) string {
		if !scored {
			return "–"
		}
		return fmt.Sprintf("%.1f", f)
	},
}

func mustParsePages() pages {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html"))
	names, err := fs.Glob(assets, "assets/templates/pages/*.html")
	if err != nil || len(names) == 0 {
		panic(fmt.Sprintf("ui: no page templates: %v", err))
	}
	ps := pages{}
	for _, n := range names {
		t := template.Must(template.Must(layout.Clone()).ParseFS(assets, n))
		ps[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return ps
}

// render writes page name with status. The page is rendered to a buffer
// first, so a template error becomes a clean 500 rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := u.pages[name]
	if !ok {
		u.log.Error("unknown page template", telemetry.KeyPath, name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.V.P.User == "" {
		v.V = visitorOf(r.Context())
	}
	if v.Flash == "" {
		v.Flash = flashes[r.URL.Query().Get("done")]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.log.Error("render page", telemetry.KeyPath, r.URL.Path, telemetry.KeyError, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) // a failed write is the browser's to see
}

// flashes are the messages ?done= may ask for after a redirect: fixed
// words, so a link cannot put text of its own on the page.
var flashes = map[string]string{
	"password": "Your password is changed.",
	"note":     "The note is added.",
	"released": "The image is released: clients may pull it now.",
	"deleted":  "The record is deleted; the next pull judges the image again.",
	"policies": "The policies are saved and in force.",
	"user":     "The user is added.",
	"userdel":  "The user is deleted.",
	"userpw":   "The user's password is set; they must change it at their next sign-in.",
	"revoked":  "The token is revoked.",
}

// fail shows an error page with a message fit for the visitor; the cause
// of a 500 is logged, not shown.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v visitor, status int, msg string) {
	u.render(w, r, status, "error", view{Title: http.StatusText(status), V: v, Error: msg})
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmtDuration(time.Since(t)) + " ago"
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "–"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shortDigest is "sha256:" and the first 12 hex digits.
func shortDigest(d fmt.Stringer) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}

// severityClass is the CSS class of a severity word.
func severityClass(s string) string {
	switch strings.ToLower(s) {
	case "critical", "high", "medium", "low":
		return "sev-" + strings.ToLower(s)
	}
	return "sev-other"
}
