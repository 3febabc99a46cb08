package vulndb

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"breakwater/internal/inventory"
	"breakwater/internal/telemetry"
)

// Match returns the findings for every component and file of inv: each
// record that affects a component's installed version, with the vendor's
// status, the fixed version and the best CVSS score; and each file whose
// digest is on a known-bad list. Withdrawn records never match.
func (db *DB) Match(ctx context.Context, inv *inventory.Inventory) (_ []inventory.Finding, err error) {
	if inv == nil {
		return nil, nil
	}
	// Version orderings come from a library fed by feeds; a panic on an
	// odd version must fail this match (the firewall then fails closed),
	// not the server.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("match inventory: %v", p)
		}
	}()
	var matched []match
	// Images hold many copies of one package (node_modules); ask the store
	// once per package.
	seen := map[string][]Record{}
	for _, c := range inv.Components {
		ms, err := db.matchComponent(ctx, inv.Distro, c, seen)
		if err != nil {
			return nil, err
		}
		matched = append(matched, ms...)
	}
	findings, err := db.score(ctx, matched)
	if err != nil {
		return nil, err
	}
	files, err := db.matchFiles(ctx, inv.Files)
	if err != nil {
		return nil, err
	}
	return append(findings, files...), nil
}

// match is a finding before scoring, with the record it came from.
type match struct {
	finding inventory.Finding
	record  Record
	urgency string
}

// query is what the store is asked about one component.
type query struct {
	ecosystems []string
	// fallback is the one of ecosystems whose entries count only when a
	// record has none under the others: Debian's unstable state.
	fallback string
	name     string
	version  string
	distro   bool // a distro package, whose findings always carry a status
}

// queryFor picks the ecosystems, name and version to match c by. Distro
// packages are looked up under the image's release, by their source
// package, since Debian, Ubuntu and Alpine data are keyed by source; a
// Debian release also reads the unstable state stored under plain "Debian".
func queryFor(d *inventory.Distro, c inventory.Component) query {
	base, release, _ := strings.Cut(c.Ecosystem, ":")
	switch base {
	case inventory.Debian:
		if release == "" {
			release = debianRelease(d)
		}
		q := query{
			ecosystems: []string{inventory.Debian},
			fallback:   inventory.Debian,
			name:       first(c.SourceName, c.Name),
			version:    first(c.SourceVersion, c.Version),
			distro:     true,
		}
		if release != "" {
			q.ecosystems = append([]string{inventory.Debian + ":" + release}, q.ecosystems...)
		}
		return q
	case inventory.Alpine:
		if release == "" {
			release = alpineRelease(d)
		}
		if release == "" {
			return query{}
		}
		if !strings.HasPrefix(release, "v") {
			release = "v" + release
		}
		return query{
			ecosystems: []string{inventory.Alpine + ":" + release},
			name:       first(c.SourceName, c.Name),
			version:    c.Version,
			distro:     true,
		}
	case "Ubuntu":
		// OSV's Ubuntu records name the release as osv-scalibr does
		// ("Ubuntu:22.04:LTS") and are keyed by source package.
		return query{
			ecosystems: []string{c.Ecosystem},
			name:       first(c.SourceName, c.Name),
			version:    first(c.SourceVersion, c.Version),
			distro:     true,
		}
	}
	// Others match as osv-scalibr names them.
	return query{
		ecosystems: redHatStreams(c.Ecosystem),
		name:       NormalName(c.Ecosystem, c.Name),
		version:    c.Version,
		distro:     base == inventory.RedHat,
	}
}

// rhelStreams are the RHEL repositories OSV's Red Hat ecosystems name
// after their CPEs.
var rhelStreams = []string{"baseos", "appstream", "crb"}

// redHatStreams widens a RHEL ecosystem to every stream of its release.
// osv-scalibr names the stream of the image's CPE ("Red Hat:
// enterprise_linux:9::baseos"), but an image's packages come from several
// streams, and Red Hat's records name the one each package ships in.
// Other ecosystems are returned as they are.
//
// TODO: streams beyond these three (high availability, SAP, ...) and the
// extended-support products (rhel_eus) are not asked for.
func redHatStreams(eco string) []string {
	prefix, stream, ok := strings.Cut(eco, "::")
	if !ok || !strings.HasPrefix(prefix, inventory.RedHat+":enterprise_linux:") || !slices.Contains(rhelStreams, stream) {
		return []string{eco}
	}
	out := make([]string, 0, len(rhelStreams))
	for _, s := range rhelStreams {
		out = append(out, prefix+"::"+s)
	}
	return out
}

// debianRelease is "12" for Debian 12, from VERSION_ID or the codename.
func debianRelease(d *inventory.Distro) string {
	if d == nil || d.ID != "debian" {
		return ""
	}
	if major, _, _ := strings.Cut(d.VersionID, "."); major != "" {
		return major
	}
	return debianReleases[d.Codename]
}

// alpineRelease is "v3.20" for Alpine 3.20.3.
func alpineRelease(d *inventory.Distro) string {
	if d == nil || d.ID != "alpine" {
		return ""
	}
	parts := strings.SplitN(d.VersionID, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return "v" + parts[0] + "." + parts[1]
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// matchComponent finds the records that affect c.
func (db *DB) matchComponent(
	ctx context.Context,
	d *inventory.Distro,
	c inventory.Component,
	cache map[string][]Record,
) ([]match, error) {
	q := queryFor(d, c)
	if q.name == "" || q.version == "" || len(q.ecosystems) == 0 {
		return nil, nil
	}
	v, err := parseVersion(q.ecosystems[0], q.version)
	if err != nil {
		db.log.Debug("version not comparable", telemetry.KeyPath, c.Path, telemetry.KeyError, err)
		return nil, nil
	}
	key := strings.Join(q.ecosystems, "\x00") + "\x00" + q.name
	recs, ok := cache[key]
	if !ok {
		recs, err = db.store.Affecting(ctx, q.ecosystems, q.name)
		if err != nil {
			return nil, fmt.Errorf("match %s %s: %w", c.Ecosystem, c.Name, err)
		}
		cache[key] = recs
	}

	// TODO: records that alias each other (a GHSA and a PYSEC for one CVE)
	// give one finding each, so evidence lists one flaw twice; verdicts do
	// not change, since every condition holds per finding.
	var out []match
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Withdrawn || seen[r.ID] {
			continue
		}
		entry, fixed, ok := affecting(r, q, v)
		if !ok {
			continue
		}
		seen[r.ID] = true
		status := entry.Status
		switch {
		case entry.Unstable:
			// Fixed only in unstable: open for the release.
			status, fixed = debianStatus("unfixed", entry.Urgency), ""
		case status == "" && q.distro:
			// OSV's own distro records (osv.dev's DSA-, DEBIAN-CVE-, ALPINE-)
			// say no status; their ranges say whether a fix exists.
			status = inventory.StatusOpen
			if fixed != "" {
				status = inventory.StatusFixed
			}
		}
		out = append(out, match{
			finding: inventory.Finding{
				ID:           r.ID,
				Aliases:      slices.Clone(r.Aliases),
				Summary:      r.Summary,
				Component:    c,
				FixedVersion: fixed,
				Status:       status,
				Malware:      r.Malware(),
			},
			record:  r,
			urgency: entry.Urgency,
		})
	}
	return out, nil
}

// affecting returns the entry of r that puts version v of q's package in
// it. Entries for the release win over the unstable ones under the bare
// ecosystem; a release entry saying not-affected means no finding.
func affecting(r Record, q query, v semantic.Version) (Affected, string, bool) {
	var specific, fallback []Affected
	for _, a := range r.Affected {
		if NormalName(a.Ecosystem, a.Name) != q.name || !slices.Contains(q.ecosystems, a.Ecosystem) {
			continue
		}
		if a.Ecosystem == q.fallback {
			fallback = append(fallback, a)
		} else {
			specific = append(specific, a)
		}
	}
	if len(specific) == 0 {
		specific = fallback
	}
	for _, a := range specific {
		if in, fixed := a.affects(a.Ecosystem, v); in {
			return a, fixed, true
		}
	}
	return Affected{}, "", false
}

// maxIDs bounds the ids of one store query, under SQLite's variable limit.
const maxIDs = 500

// score sets each finding's score from its record, or failing that from
// the best-scored record among its id and aliases (NVD's, a GHSA's); a
// finding with neither stays unscored and takes the vendor's word.
func (db *DB) score(ctx context.Context, ms []match) ([]inventory.Finding, error) {
	var ids []string
	want := map[string]bool{}
	for _, m := range ms {
		if _, _, ok := best(m.record.Severity); ok {
			continue
		}
		for _, id := range append([]string{m.record.ID}, m.record.Aliases...) {
			if !want[id] {
				want[id] = true
				ids = append(ids, id)
			}
		}
	}
	byID := map[string][]Severity{}
	for len(ids) > 0 {
		n := min(len(ids), maxIDs)
		recs, err := db.store.ByID(ctx, ids[:n])
		if err != nil {
			return nil, fmt.Errorf("score findings: %w", err)
		}
		for _, r := range recs {
			if !r.Withdrawn {
				byID[r.ID] = append(byID[r.ID], r.Severity...)
			}
		}
		ids = ids[n:]
	}

	out := make([]inventory.Finding, 0, len(ms))
	for _, m := range ms {
		f := m.finding
		sevs := m.record.Severity
		if _, _, ok := best(sevs); !ok {
			sevs = nil
			for _, id := range append([]string{m.record.ID}, m.record.Aliases...) {
				sevs = append(sevs, byID[id]...)
			}
		}
		if score, vector, ok := best(sevs); ok {
			f.Score, f.Vector, f.Scored, f.Severity = score, vector, true, rating(score)
		} else {
			f.Severity = labelSeverity(first(m.record.Label, m.urgency))
		}
		out = append(out, f)
	}
	return out, nil
}

// matchFiles reports the files whose digest is on a known-bad list.
func (db *DB) matchFiles(ctx context.Context, files []inventory.File) ([]inventory.Finding, error) {
	var digests []string
	seen := map[string]bool{}
	for _, f := range files {
		if d := f.Digest.String(); !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	bad := map[string][]string{}
	for len(digests) > 0 {
		n := min(len(digests), maxIDs)
		got, err := db.store.BadFiles(ctx, digests[:n])
		if err != nil {
			return nil, fmt.Errorf("match file digests: %w", err)
		}
		for _, b := range got {
			bad[b.Digest] = append(bad[b.Digest], b.Reason)
		}
		digests = digests[n:]
	}

	var out []inventory.Finding
	for _, f := range files {
		reasons, ok := bad[f.Digest.String()]
		if !ok {
			continue
		}
		sort.Strings(reasons)
		out = append(out, inventory.Finding{
			ID:        f.Digest.String(),
			Summary:   strings.Join(reasons, "; "),
			Component: inventory.Component{Name: path.Base(f.Path), Layer: f.Layer, Path: f.Path},
			Malware:   true,
		})
	}
	return out, nil
}
