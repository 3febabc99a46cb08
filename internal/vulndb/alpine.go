package vulndb

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"breakwater/internal/inventory"
)

// secdbPackage is one package of Alpine's secdb: secfixes maps the first
// fixed version to the ids it fixes. The version "0" means Alpine was
// never affected, not that every version is.
type secdbPackage struct {
	Name     string              `json:"name"`
	Secfixes map[string][]string `json:"secfixes"`
}

// parseSecdb converts either secdb's own release file
// ({"distroversion", "packages": [{"pkg": {...}}]}) or vuln-list's one
// package per file ({"name", "secfixes", "distroversion"}).
func parseSecdb(data []byte) ([]Record, error) {
	var doc struct {
		DistroVersion string `json:"distroversion"`
		Packages      []struct {
			Pkg secdbPackage `json:"pkg"`
		} `json:"packages"`
		secdbPackage
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode alpine secdb: %w", err)
	}
	if doc.DistroVersion == "" {
		return nil, fmt.Errorf("decode alpine secdb: no distroversion")
	}
	eco := "Alpine:" + doc.DistroVersion
	pkgs := []secdbPackage{doc.secdbPackage}
	if doc.Packages != nil {
		pkgs = pkgs[:0]
		for _, p := range doc.Packages {
			pkgs = append(pkgs, p.Pkg)
		}
	}

	var recs []Record
	for _, p := range pkgs {
		recs = append(recs, secdbRecords(eco, p)...)
	}
	return recs, nil
}

// secdbRecords turns one package's secfixes into one record per id. An
// entry may hold several ids ("CVE-2019-1 GHSA-x"); the first is the id,
// the rest aliases.
func secdbRecords(eco string, p secdbPackage) []Record {
	versions := make([]string, 0, len(p.Secfixes))
	for v := range p.Secfixes {
		versions = append(versions, v)
	}
	// In apk order, so that when secdb lists an id under two fixes (a fix
	// redone) the first fix wins.
	sort.Slice(versions, func(i, j int) bool { return apkLess(versions[i], versions[j]) })

	var recs []Record
	seen := map[string]bool{}
	for _, v := range versions {
		for _, entry := range p.Secfixes[v] {
			ids := strings.Fields(entry)
			if len(ids) == 0 || seen[ids[0]] {
				continue
			}
			seen[ids[0]] = true
			a := Affected{Ecosystem: eco, Name: p.Name}
			if v == "0" {
				a.Status = StatusNotAffected
			} else {
				a.Status = inventory.StatusFixed
				a.Ranges = []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: v}}}}
			}
			recs = append(recs, Record{ID: ids[0], Aliases: ids[1:], Affected: []Affected{a}})
		}
	}
	return recs
}

// apkLess orders apk versions, "0" first, and falls back to byte order
// for versions apk's rules cannot parse.
func apkLess(a, b string) bool {
	va, errA := parseVersion("Alpine", a)
	vb, errB := parseVersion("Alpine", b)
	if errA == nil && errB == nil {
		if c, err := va.Compare(vb); err == nil {
			return c < 0
		}
	}
	return a < b
}
