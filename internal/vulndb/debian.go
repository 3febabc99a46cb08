package vulndb

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"breakwater/internal/inventory"
)

// debianReleases maps the tracker's codenames to OSV's Debian releases.
// Codenames not listed (sid, experimental, retired ones) are skipped: no
// image reports them as its release.
var debianReleases = map[string]string{
	"lenny":    "5",
	"squeeze":  "6",
	"wheezy":   "7",
	"jessie":   "8",
	"stretch":  "9",
	"buster":   "10",
	"bullseye": "11",
	"bookworm": "12",
	"trixie":   "13",
	"forky":    "14",
	"duke":     "15",
}

// debianStatus maps the tracker's states for a release to a status. The
// states of a release line in data/CVE/list and of the JSON export's
// nodsa_reason share these words.
func debianStatus(kind, urgency string) string {
	status := inventory.StatusOpen
	switch kind {
	case "fixed", "resolved":
		return inventory.StatusFixed
	case "not-affected":
		return StatusNotAffected
	case "no-dsa", "postponed":
		// The tracker's export lists postponed as a reason for no-dsa:
		// minor enough to wait for a point release.
		status = inventory.StatusNoDSA
	case "ignored":
		status = inventory.StatusIgnored
	case "end-of-life":
		return inventory.StatusWillNotFix
	}
	// unfixed, removed, undetermined and open stay open.
	if urgency == "unimportant" {
		return inventory.StatusUnimportant
	}
	if urgency == "end-of-life" {
		return inventory.StatusWillNotFix
	}
	return status
}

// debianUrgency normalises an urgency: the export marks guesses with a
// trailing "*" and says "not yet assigned" for none.
func debianUrgency(u string) string {
	u = strings.TrimRight(u, "*")
	if u == "not yet assigned" {
		return ""
	}
	return u
}

// debianAffected builds one entry for a release line.
func debianAffected(eco, pkg, kind, fixed, urgency string) Affected {
	a := Affected{Ecosystem: eco, Name: pkg, Urgency: urgency, Status: debianStatus(kind, urgency)}
	if a.Status == inventory.StatusFixed && fixed == "" {
		// A fix without a version says nothing about the installed one;
		// keep the issue open rather than guess.
		a.Status = debianStatus("unfixed", urgency)
	}
	switch {
	case a.Status == StatusNotAffected:
	case a.Status == inventory.StatusFixed && fixed != "":
		a.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: fixed}}}}
	default:
		a.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}}}}
	}
	return a
}

// trackerRelease is one release's state in the tracker's JSON export.
type trackerRelease struct {
	Status       string `json:"status"`
	FixedVersion string `json:"fixed_version"`
	Urgency      string `json:"urgency"`
	NoDSA        string `json:"nodsa"`
	NoDSAReason  string `json:"nodsa_reason"`
}

type trackerExport map[string]map[string]struct {
	Description string                    `json:"description"`
	Releases    map[string]trackerRelease `json:"releases"`
}

// parseTrackerExport converts the security tracker's /tracker/data/json:
// {source package: {CVE: {releases: {codename: {status, fixed_version,
// urgency, nodsa, nodsa_reason}}}}}. The tracker has already resolved
// advisories into each release there.
func parseTrackerExport(data []byte) ([]Record, error) {
	var doc trackerExport
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode debian tracker export: %w", err)
	}
	var recs []Record
	for pkg, cves := range doc {
		for id, cve := range cves {
			r := Record{ID: id, Summary: firstLine(cve.Description)}
			for codename, rel := range cve.Releases {
				n, ok := debianReleases[codename]
				if !ok {
					continue
				}
				kind := rel.Status
				switch {
				case kind == "resolved" && rel.FixedVersion == "0":
					kind = "not-affected"
				case kind != "resolved" && rel.NoDSA != "":
					kind = "no-dsa" // also for the reason "postponed"
					if rel.NoDSAReason == "ignored" {
						kind = "ignored"
					}
				}
				a := debianAffected("Debian:"+n, pkg, kind, rel.FixedVersion, debianUrgency(rel.Urgency))
				r.Affected = append(r.Affected, a)
			}
			sortAffected(r.Affected)
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// listFile is one vuln-list-debian file: a tracker entry from
// data/CVE/list, data/DSA/list or data/DLA/list, parsed line by line.
type listFile struct {
	Header struct {
		ID          string `json:"ID"`
		Description string `json:"Description"`
	} `json:"Header"`
	Annotations []struct {
		Type     string   `json:"Type"`
		Release  string   `json:"Release"`
		Package  string   `json:"Package"`
		Kind     string   `json:"Kind"`
		Version  string   `json:"Version"`
		Severity string   `json:"Severity"`
		Bugs     []string `json:"Bugs"`
	} `json:"Annotations"`
}

// trackerLists collects vuln-list-debian files until the whole import has
// been read, because a CVE's fix for a release is often only in the DSA
// or DLA that names it, and either side may name the other.
type trackerLists struct {
	cves       map[string]listFile
	advisories map[string]listFile
}

func (t *trackerLists) add(data []byte) error {
	var f listFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("decode debian tracker entry: %w", err)
	}
	if f.Header.ID == "" {
		return fmt.Errorf("decode debian tracker entry: no id")
	}
	if t.cves == nil {
		t.cves = map[string]listFile{}
		t.advisories = map[string]listFile{}
	}
	if isAdvisory(f.Header.ID) {
		t.advisories[f.Header.ID] = f
	} else {
		t.cves[f.Header.ID] = f
	}
	return nil
}

func isAdvisory(id string) bool {
	return strings.HasPrefix(id, "DSA-") || strings.HasPrefix(id, "DLA-") || strings.HasPrefix(id, "DTSA-")
}

// records resolves the collected files into one record per CVE. Rules, in
// order: a CVE's own release line wins; else a fixed line of an advisory
// that the CVE cross-references, or that cross-references the CVE, for a
// package the CVE names; else the unstable line, stored under plain
// "Debian" for releases with nothing of their own.
func (t *trackerLists) records() []Record {
	// Which advisories name each CVE.
	named := map[string][]string{}
	for id, adv := range t.advisories {
		for _, a := range adv.Annotations {
			if a.Type == "xref" {
				for _, cve := range a.Bugs {
					named[cve] = append(named[cve], id)
				}
			}
		}
	}
	ids := make([]string, 0, len(t.cves)+len(named))
	for id := range t.cves {
		ids = append(ids, id)
	}
	for id := range named {
		if _, ok := t.cves[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)

	recs := make([]Record, 0, len(ids))
	for _, id := range ids {
		recs = append(recs, t.record(id, named[id]))
	}
	return recs
}

func (t *trackerLists) record(id string, namedBy []string) Record {
	f := t.cves[id]
	r := Record{ID: id, Summary: strings.Trim(f.Header.Description, "()")}
	type key struct{ eco, pkg string }
	entries := map[key]Affected{}
	urgency := map[string]string{}
	var order []key
	put := func(a Affected) {
		k := key{a.Ecosystem, a.Name}
		if _, ok := entries[k]; !ok {
			order = append(order, k)
			entries[k] = a
		}
	}

	// The CVE's own lines; unstable's carries the urgency for all.
	for _, a := range f.Annotations {
		if a.Type == "package" && a.Release == "" && a.Severity != "" {
			urgency[a.Package] = a.Severity
		}
	}
	advisories := append([]string(nil), namedBy...)
	for _, a := range f.Annotations {
		switch a.Type {
		case "xref":
			for _, b := range a.Bugs {
				if isAdvisory(b) {
					advisories = append(advisories, b)
				}
			}
		case "package":
			if a.Release == "" {
				e := debianAffected("Debian", a.Package, a.Kind, a.Version, urgency[a.Package])
				e.Unstable = e.Status == inventory.StatusFixed
				put(e)
			} else if n, ok := debianReleases[a.Release]; ok {
				put(debianAffected("Debian:"+n, a.Package, a.Kind, a.Version, urgency[a.Package]))
			}
		}
	}

	// Advisory fixes fill releases the CVE says nothing about.
	sort.Strings(advisories)
	for i, adv := range advisories {
		if i > 0 && adv == advisories[i-1] {
			continue
		}
		af, ok := t.advisories[adv]
		if !ok {
			continue
		}
		r.Aliases = append(r.Aliases, adv)
		for _, a := range af.Annotations {
			n, ok := debianReleases[a.Release]
			if a.Type != "package" || a.Kind != "fixed" || !ok {
				continue
			}
			// An advisory may fix several packages; the CVE, when it
			// names any, says which of them it is about.
			if namesPackage(f, "") && !namesPackage(f, a.Package) {
				continue
			}
			put(debianAffected("Debian:"+n, a.Package, "fixed", a.Version, urgency[a.Package]))
		}
	}
	for _, k := range order {
		r.Affected = append(r.Affected, entries[k])
	}
	sortAffected(r.Affected)
	return r
}

// namesPackage reports whether f has a line for pkg, or for any package
// when pkg is "".
func namesPackage(f listFile, pkg string) bool {
	for _, a := range f.Annotations {
		if a.Type == "package" && (pkg == "" || a.Package == pkg) {
			return true
		}
	}
	return false
}

// sortAffected orders entries by ecosystem and name, for stable storage.
func sortAffected(as []Affected) {
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].Ecosystem != as[j].Ecosystem {
			return as[i].Ecosystem < as[j].Ecosystem
		}
		return as[i].Name < as[j].Name
	})
}
