package ui

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/firewall"
	"breakwater/internal/inventory"
	"breakwater/internal/telemetry"
	"breakwater/internal/when"
)

// pageSize is how many quarantine records one page lists.
const pageSize = 25

type quarantineListData struct {
	Repo, Policy, Severity, Since, Until, Sort string
	Items                                      []quarantineRow
	Total, From, To                            int
	Prev, Next                                 string
	Sorts                                      []option
	Severities                                 []option
}

type quarantineRow struct {
	firewall.Record
	TopScore float64
	Scored   bool
	Severity string
}

type option struct {
	Value, Label string
	Selected     bool
}

// hasOption reports whether value is one of the choices of a select.
func hasOption(opts []option, value string) bool {
	for _, o := range opts {
		if o.Value == value {
			return true
		}
	}
	return false
}

func options(current string, pairs ...string) []option {
	var out []option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == current})
	}
	return out
}

// quarantineList lists records with filters, sorting and pages.
func (u *UI) quarantineList(w http.ResponseWriter, r *http.Request, v visitor) {
	q := r.URL.Query()
	d := quarantineListData{
		Repo: q.Get("repo"), Policy: q.Get("policy"), Severity: q.Get("severity"),
		Since: q.Get("since"), Until: q.Get("until"), Sort: q.Get("sort"),
	}
	d.Sorts = options(d.Sort, "", "newest first", admin.SortOldest, "oldest first", admin.SortScore, "highest score", admin.SortRepo, "repository")
	d.Severities = options(d.Severity, "", "any", "low", "low or above", "medium", "medium or above", "high", "high or above", "critical", "critical")
	bad := func(msg string) {
		u.render(w, r, http.StatusBadRequest, "quarantine", view{Title: "Quarantine", Nav: "quarantine", V: v, Data: d, Error: msg})
	}
	offset, err := strconv.Atoi(cmp.Or(q.Get("offset"), "0"))
	if err != nil || offset < 0 {
		bad("The offset must be a number, not negative.")
		return
	}
	now := u.opts.Now()
	since, err := when.Since(d.Since, now)
	if err != nil {
		bad("Since must be " + when.SinceForms + ".")
		return
	}
	until, err := when.Since(d.Until, now)
	if err != nil {
		bad("Until must be " + when.SinceForms + ".")
		return
	}
	// The page checks the choices it offers itself, so a bad link gets a
	// sentence about the form rather than the store's wording.
	if !hasOption(d.Severities, d.Severity) {
		bad(fmt.Sprintf("Severity must be low, medium, high or critical, not %q.", d.Severity))
		return
	}
	if !hasOption(d.Sorts, d.Sort) && d.Sort != admin.SortNewest {
		bad(fmt.Sprintf("Sort must be newest, oldest, score or repo, not %q.", d.Sort))
		return
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		bad("Until must not be before Since.")
		return
	}
	query := admin.QuarantineQuery{Repo: d.Repo, Policy: d.Policy, Severity: d.Severity, Since: since, Until: until,
		Sort: d.Sort, Offset: offset, Limit: pageSize}
	page, err := u.opts.Admin.Quarantines(r.Context(), query)
	if err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			bad(msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	for _, rec := range page.Items {
		d.Items = append(d.Items, row(rec))
	}
	d.Total = page.Total
	d.From, d.To = offset+1, offset+len(d.Items)
	link := func(off int) string {
		v := url.Values{}
		for k, s := range map[string]string{"repo": d.Repo, "policy": d.Policy, "severity": d.Severity, "since": d.Since, "until": d.Until, "sort": d.Sort} {
			if s != "" {
				v.Set(k, s)
			}
		}
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		return Prefix + "/quarantine?" + v.Encode()
	}
	if offset > 0 {
		d.Prev = link(max(0, offset-pageSize))
	}
	if offset+pageSize < d.Total {
		d.Next = link(offset + pageSize)
	}
	u.render(w, r, http.StatusOK, "quarantine", view{Title: "Quarantine", Nav: "quarantine", V: v, Data: d})
}

// row adds the highest score of a record's findings.
func row(rec firewall.Record) quarantineRow {
	out := quarantineRow{Record: rec}
	for _, f := range rec.Evidence.Findings {
		if f.Scored && (!out.Scored || f.Score > out.TopScore) {
			out.TopScore, out.Scored, out.Severity = f.Score, true, f.Severity
		}
		if f.Malware {
			out.Severity = "malware"
		}
	}
	return out
}

type detailData struct {
	Rec      firewall.Record
	Findings []inventory.Finding
	Malware  []inventory.Finding
	Packages []packageRow
	// Sort is the findings' order; SortLinks flip it.
	Sort                        string
	ScoreSort, IDSort, PkgSort  string
	ScoreAria, IDAria, PkgAria  string
	ScoreHref, IDHref, PkgHref  string
	ReleaseReason, DeleteReason string
	ReleaseError, DeleteError   string
	NoteError, NoteText         string
	// Fired are the policies that fired on the image, with their
	// conditions as configured now.
	Fired []firedPolicy
}

// firedPolicy is one policy that fired: what the verdict recorded, and
// what the policy of that name says today (InForce false if it is gone).
type firedPolicy struct {
	Name, Action string
	// Findings are the ids of the findings it fired on.
	Findings    []string
	InForce     bool
	Description string
	// Conditions are the policy's conditions as compact JSON.
	Conditions string
}

// packageRow is one vulnerable package: installed and fixed versions.
type packageRow struct {
	Ecosystem, Name, Installed, Fixed string
	Findings                          int
}

// quarantineDetail shows one record with its evidence and, for admins,
// the note, release and delete forms.
func (u *UI) quarantineDetail(w http.ResponseWriter, r *http.Request, v visitor) {
	u.showDetail(w, r, v, http.StatusOK, detailData{})
}

func (u *UI) showDetail(w http.ResponseWriter, r *http.Request, v visitor, status int, d detailData) {
	rec, err := u.opts.Admin.Quarantine(r.Context(), r.PathValue("id"))
	if err != nil {
		u.failErr(w, r, v, err)
		return
	}
	d.Rec = rec
	d.Sort = r.URL.Query().Get("sort")
	fs := slices.Clone(rec.Evidence.Findings)
	sortFindings(fs, d.Sort)
	for _, f := range fs {
		if f.Malware {
			d.Malware = append(d.Malware, f)
		}
	}
	d.Findings = fs
	d.Packages = packages(rec.Evidence.Findings)
	d.Fired = u.fired(r.Context(), rec)
	base := Prefix + "/quarantine/" + url.PathEscape(rec.ID) + "?sort="
	d.ScoreHref, d.ScoreAria = base+flip(d.Sort, "score"), aria(d.Sort, "score")
	d.IDHref, d.IDAria = base+flip(d.Sort, "id"), aria(d.Sort, "id")
	d.PkgHref, d.PkgAria = base+flip(d.Sort, "package"), aria(d.Sort, "package")
	u.render(w, r, status, "quarantine_detail", view{Title: "Quarantined image", Nav: "quarantine", V: v, Data: d})
}

// fired joins the verdict's matches with the policies in force. Without
// the policies (an error reading them is logged) the matches still show.
func (u *UI) fired(ctx context.Context, rec firewall.Record) []firedPolicy {
	set, err := u.opts.Admin.Policies(ctx)
	if err != nil {
		u.log.Warn("read policies for a quarantine record", telemetry.KeyError, err)
	}
	var out []firedPolicy
	for _, m := range rec.Evidence.Verdict.Matches {
		f := firedPolicy{Name: m.Policy, Action: string(m.Action)}
		for _, fd := range m.Findings {
			f.Findings = append(f.Findings, fd.ID)
		}
		for _, p := range set {
			if p.Name == m.Policy {
				f.InForce, f.Description, f.Conditions = true, p.Description, compactJSON(p.Conditions)
			}
		}
		out = append(out, f)
	}
	return out
}

// flip is the sort a column header links to: its key, or its reverse when
// already sorted by it. Scores start highest first.
func flip(current, key string) string {
	if key == "score" {
		if current == "-score" || current == "" {
			return "score"
		}
		return "-score"
	}
	if current == key {
		return "-" + key
	}
	return key
}

// aria is the aria-sort value of a column.
func aria(current, key string) string {
	switch current {
	case key:
		return "ascending"
	case "-" + key:
		return "descending"
	case "":
		if key == "score" {
			return "descending"
		}
	}
	return "none"
}

// sortFindings orders findings by key: "-score" (the default, highest
// first), "score", "id", "package" and their "-" reverses.
func sortFindings(fs []inventory.Finding, key string) {
	desc := strings.HasPrefix(key, "-")
	k := strings.TrimPrefix(key, "-")
	if key == "" {
		k, desc = "score", true
	}
	by := func(a, b inventory.Finding) int {
		switch k {
		case "id":
			return cmp.Compare(a.ID, b.ID)
		case "package":
			return cmp.Or(cmp.Compare(a.Component.Name, b.Component.Name), cmp.Compare(a.ID, b.ID))
		default:
			// Malware first among equals, unscored below every score.
			return cmp.Or(cmp.Compare(scoreKey(a), scoreKey(b)), cmp.Compare(b.ID, a.ID))
		}
	}
	slices.SortStableFunc(fs, func(a, b inventory.Finding) int {
		if desc {
			return by(b, a)
		}
		return by(a, b)
	})
}

func scoreKey(f inventory.Finding) float64 {
	switch {
	case f.Malware:
		return 11
	case !f.Scored:
		return -1
	}
	return f.Score
}

// packages lists each vulnerable package once with the highest fixed
// version any of its findings names.
func packages(fs []inventory.Finding) []packageRow {
	idx := map[string]int{}
	var out []packageRow
	for _, f := range fs {
		c := f.Component
		key := c.Ecosystem + "\x00" + c.Name + "\x00" + c.Version
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, packageRow{Ecosystem: c.Ecosystem, Name: c.Name, Installed: c.Version})
		}
		out[i].Findings++
		if f.FixedVersion != "" && !strings.Contains(out[i].Fixed, f.FixedVersion) {
			if out[i].Fixed != "" {
				out[i].Fixed += ", "
			}
			out[i].Fixed += f.FixedVersion
		}
	}
	slices.SortFunc(out, func(a, b packageRow) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// addNote adds an admin's note.
func (u *UI) addNote(w http.ResponseWriter, r *http.Request, v visitor) {
	id, text := r.PathValue("id"), r.PostForm.Get("text")
	if err := u.opts.Admin.AddNote(r.Context(), v.P, id, text); err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			u.showDetail(w, r, v, status, detailData{NoteError: msg, NoteText: text})
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	http.Redirect(w, r, Prefix+"/quarantine/"+url.PathEscape(id)+"?done=note", http.StatusSeeOther)
}

// release and delete need a reason and the confirm box ticked; without
// either the detail page is shown again with the form's error, so no
// script is needed for the confirmation.
func (u *UI) release(w http.ResponseWriter, r *http.Request, v visitor) {
	u.act(w, r, v, "released", u.opts.Admin.Release)
}

func (u *UI) delete(w http.ResponseWriter, r *http.Request, v visitor) {
	u.act(w, r, v, "deleted", u.opts.Admin.Delete)
}

func (u *UI) act(w http.ResponseWriter, r *http.Request, v visitor, done string,
	do func(context.Context, auth.Principal, string, string) error) {
	id, reason := r.PathValue("id"), r.PostForm.Get("reason")
	bad := func(status int, msg string) {
		d := detailData{}
		if done == "released" {
			d.ReleaseError, d.ReleaseReason = msg, reason
		} else {
			d.DeleteError, d.DeleteReason = msg, reason
		}
		u.showDetail(w, r, v, status, d)
	}
	if !v.P.IsAdmin() {
		u.fail(w, r, v, http.StatusForbidden, "Only admins may do this.")
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		bad(http.StatusBadRequest, "Tick the box to confirm.")
		return
	}
	if err := do(r.Context(), v.P, id, reason); err != nil {
		if status, msg := errStatus(err); status == http.StatusBadRequest {
			bad(status, msg)
			return
		}
		u.failErr(w, r, v, err)
		return
	}
	if done == "deleted" {
		http.Redirect(w, r, Prefix+"/quarantine?done=deleted", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/quarantine/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}
