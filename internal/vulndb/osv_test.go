package vulndb_test

import (
	"testing"

	"breakwater/internal/inventory"
)

func comp(eco, name, version string) inventory.Component {
	return inventory.Component{Ecosystem: eco, Name: name, Version: version}
}

// TestOSV matches language packages against GO-, GHSA- and PYSEC- (YAML)
// records, each case naming what must be found (with its fixed version)
// and what must not.
func TestOSV(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "osv/go", "osv/npm", "osv/pypi", "osv/pypi-pysec")
	tests := []struct {
		name   string
		c      inventory.Component
		found  map[string]string // id -> fixed version
		absent []string
	}{
		{"go module inside the range", comp("Go", "golang.org/x/net", "v0.16.0"),
			map[string]string{"GO-2023-2102": "0.17.0"}, nil},
		{"go module at the fix", comp("Go", "golang.org/x/net", "v0.17.0"),
			nil, []string{"GO-2023-2102"}},
		{"go stdlib in the second range", comp("Go", "stdlib", "go1.21.2"),
			map[string]string{"GO-2023-2102": "1.21.3"}, nil},
		{"go stdlib between the ranges", comp("Go", "stdlib", "1.21.3"),
			nil, []string{"GO-2023-2102"}},
		{"withdrawn go record", comp("Go", "github.com/gorilla/sessions", "v1.2.1"),
			nil, []string{"GO-2024-2730"}},
		{"npm two ranges of one record", comp("npm", "lodash", "4.17.19"),
			map[string]string{"GHSA-p6mc-m468-83gw": "4.17.20", "GHSA-35jh-r3h4-6jhm": "4.17.21"}, []string{"GHSA-jf85-cpcp-j695"}},
		{"npm name spelled with a capital", comp("npm", "axios", "1.5.0"),
			map[string]string{"GHSA-8hc4-vh64-cxmj": "1.7.4", "GHSA-wf5p-g6vw-rhxx": "1.6.0"}, nil},
		{"npm pre-release range", comp("npm", "express", "5.0.0-beta.1"),
			map[string]string{"GHSA-qw6h-vgh9-j6wx": "5.0.0", "GHSA-rv95-896h-c2vc": "5.0.0-beta.3"}, nil},
		{"npm second range", comp("npm", "minimist", "1.2.5"),
			map[string]string{"GHSA-xvch-5gv4-984h": "1.2.6"}, nil},
		{"npm fixed in the first range", comp("npm", "minimist", "0.2.4"),
			nil, []string{"GHSA-xvch-5gv4-984h"}},
		{"pypi ghsa and pysec yaml", comp("PyPI", "requests", "2.30.0"),
			map[string]string{"GHSA-j8r2-6x86-q33q": "2.31.0", "PYSEC-2023-74": "2.31.0", "GHSA-9wx4-h78v-vm56": "2.32.2"},
			[]string{"PYSEC-2018-28", "PYSEC-2014-13"}},
		{"pypi name normalised", comp("PyPI", "PyYAML", "5.3.1"),
			map[string]string{"GHSA-8q59-q68h-6hv4": "5.4", "PYSEC-2021-142": "5.4"}, nil},
		{"pypi version past every fix", comp("PyPI", "jinja2", "3.1.4"),
			nil, []string{"GHSA-h5c8-rqwp-cp95", "PYSEC-2019-220"}},
		// PYSEC-2022-43059 lists 0.10.0 and every version since 0, but is
		// withdrawn; the older records still match.
		{"withdrawn yaml record", comp("PyPI", "aiohttp", "0.10.0"),
			map[string]string{"PYSEC-2021-76": "3.7.4"}, []string{"PYSEC-2022-43059"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := match(t, db, &inventory.Inventory{Components: []inventory.Component{tt.c}})
			for id, fixed := range tt.found {
				f, ok := got[tt.c.Name+" "+id]
				if !ok {
					t.Errorf("no %s among %v", id, keys(got))
					continue
				}
				if f.FixedVersion != fixed || f.Malware {
					t.Errorf("%s: fixed %q malware %v, want fixed %q, no malware", id, f.FixedVersion, f.Malware, fixed)
				}
			}
			for _, id := range tt.absent {
				if _, ok := got[tt.c.Name+" "+id]; ok {
					t.Errorf("found %s, want not", id)
				}
			}
		})
	}
}

// TestMalware matches MAL- records: version lists, ranges, everything
// since 0, and withdrawn records that must not block.
func TestMalware(t *testing.T) {
	db := openDB(t)
	importAll(t, db, "osv/malicious")
	tests := []struct {
		c    inventory.Component
		want string // the MAL id, "" for none
	}{
		{comp("npm", "chalk", "5.6.1"), "MAL-2025-46969"},
		{comp("npm", "chalk", "5.6.0"), ""},
		{comp("npm", "eslint-config-prettier", "9.1.1"), "MAL-2025-6022"},
		{comp("npm", "eslint-config-prettier", "9.1.0"), ""},
		{comp("npm", "@solana/web3.js", "1.95.7"), "MAL-2024-11183"},
		{comp("npm", "@solana/web3.js", "1.95.8"), ""},
		// The record's "introduced: 0" range is taken at face value.
		{comp("npm", "@ctrl/tinycolor", "3.0.0"), "MAL-2025-47141"},
		{comp("npm", "@ctrl/plex", "6.0.0"), ""},               // withdrawn
		{comp("npm", "@amber-team/amazon-utils", "1.0.0"), ""}, // withdrawn
		{comp("PyPI", "0requests", "0.0.1"), "MAL-2026-15859"},
		{comp("PyPI", "py_ccvmtool", "9.9"), "MAL-2023-5025"},
	}
	for _, tt := range tests {
		t.Run(tt.c.Name+"@"+tt.c.Version, func(t *testing.T) {
			got := match(t, db, &inventory.Inventory{Components: []inventory.Component{tt.c}})
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("findings = %v, want none", keys(got))
				}
				return
			}
			f, ok := got[tt.c.Name+" "+tt.want]
			if !ok || len(got) != 1 {
				t.Fatalf("findings = %v, want only %s", keys(got), tt.want)
			}
			if !f.Malware {
				t.Errorf("%s: Malware = false, want true", tt.want)
			}
		})
	}
}
