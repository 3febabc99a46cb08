package vulndb

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTrackerJoin pins how CVE files and advisories join, on small files
// in vuln-list-debian's shape.
func TestTrackerJoin(t *testing.T) {
	files := []string{
		// Only notes: the advisory naming it is all there is.
		`{"Header":{"ID":"CVE-1"},"Annotations":[{"Type":"NOTE","Description":"x"}]}`,
		`{"Header":{"ID":"DSA-1"},"Annotations":[{"Type":"xref","Bugs":["CVE-1"]},
			{"Type":"package","Release":"bookworm","Package":"foo","Kind":"fixed","Version":"1.0-1+deb12u1"}]}`,
		// The advisory fixes two packages; the CVE is about one of them,
		// and its own bookworm line wins over the advisory's.
		`{"Header":{"ID":"CVE-2"},"Annotations":[{"Type":"xref","Bugs":["DSA-2"]},
			{"Type":"package","Package":"bar","Kind":"fixed","Version":"2.0-1"},
			{"Type":"package","Release":"bookworm","Package":"bar","Kind":"no-dsa"}]}`,
		`{"Header":{"ID":"DSA-2"},"Annotations":[
			{"Type":"package","Release":"bookworm","Package":"bar","Kind":"fixed","Version":"1.5-1+deb12u1"},
			{"Type":"package","Release":"bullseye","Package":"bar","Kind":"fixed","Version":"1.4-1+deb11u1"},
			{"Type":"package","Release":"bookworm","Package":"baz","Kind":"fixed","Version":"3.0-1+deb12u1"}]}`,
	}
	var lists trackerLists
	for _, f := range files {
		if err := lists.add([]byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	open := []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}}}}
	fixed := func(v string) []Range {
		return []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: v}}}}
	}
	want := []Record{
		{ID: "CVE-1", Aliases: []string{"DSA-1"}, Affected: []Affected{
			{Ecosystem: "Debian:12", Name: "foo", Status: "fixed", Ranges: fixed("1.0-1+deb12u1")},
		}},
		{ID: "CVE-2", Aliases: []string{"DSA-2"}, Affected: []Affected{
			{Ecosystem: "Debian", Name: "bar", Status: "fixed", Ranges: fixed("2.0-1"), Unstable: true},
			{Ecosystem: "Debian:11", Name: "bar", Status: "fixed", Ranges: fixed("1.4-1+deb11u1")},
			{Ecosystem: "Debian:12", Name: "bar", Status: "no-dsa", Ranges: open},
		}},
	}
	if diff := cmp.Diff(lists.records(), want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}
