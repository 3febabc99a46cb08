package vulndb

import (
	"testing"
)

// TestRangeHolds pins OSV range semantics in several orderings.
func TestRangeHolds(t *testing.T) {
	ev := func(kind, v string) Event {
		switch kind {
		case "i":
			return Event{Introduced: v}
		case "f":
			return Event{Fixed: v}
		case "l":
			return Event{LastAffected: v}
		}
		return Event{Limit: v}
	}
	tests := []struct {
		name      string
		ecosystem string
		r         Range
		version   string
		want      bool
		wantFixed string
	}{
		{"below fix", "npm", Range{"SEMVER", []Event{ev("i", "0"), ev("f", "1.2.0")}}, "1.1.9", true, "1.2.0"},
		{"at fix", "npm", Range{"SEMVER", []Event{ev("i", "0"), ev("f", "1.2.0")}}, "1.2.0", false, ""},
		{"before introduced", "npm", Range{"SEMVER", []Event{ev("i", "1.0.0"), ev("f", "1.2.0")}}, "0.9.0", false, ""},
		{"at last_affected", "npm", Range{"SEMVER", []Event{ev("i", "4.1.1"), ev("l", "4.1.2")}}, "4.1.2", true, ""},
		{"past last_affected", "npm", Range{"SEMVER", []Event{ev("i", "4.1.1"), ev("l", "4.1.2")}}, "4.1.3", false, ""},
		{"second pair, events out of order", "Go", Range{"SEMVER", []Event{ev("i", "1.21.0-0"), ev("f", "1.21.3"), ev("i", "0"), ev("f", "1.20.10")}}, "1.21.2", true, "1.21.3"},
		{"between pairs", "Go", Range{"SEMVER", []Event{ev("i", "0"), ev("f", "1.20.10"), ev("i", "1.21.0-0"), ev("f", "1.21.3")}}, "1.20.12", false, ""},
		{"no fix", "PyPI", Range{"ECOSYSTEM", []Event{ev("i", "2.0")}}, "9.9", true, ""},
		{"pep 440 pre-release below fix", "PyPI", Range{"ECOSYSTEM", []Event{ev("i", "0"), ev("f", "2.0")}}, "2.0rc1", true, "2.0"},
		{"dpkg tilde sorts first", "Debian:12", Range{"ECOSYSTEM", []Event{ev("i", "0"), ev("f", "3.0.11-1~deb12u2")}}, "3.0.11-1~deb12u1", true, "3.0.11-1~deb12u2"},
		{"dpkg epoch", "Debian:12", Range{"ECOSYSTEM", []Event{ev("i", "0"), ev("f", "1:1.2.11.dfsg-4.1")}}, "1:1.2.13.dfsg-1", false, ""},
		{"apk revision", "Alpine:v3.20", Range{"ECOSYSTEM", []Event{ev("i", "0"), ev("f", "1.36.1-r31")}}, "1.36.1-r29", true, "1.36.1-r31"},
		{"maven qualifiers", "Maven", Range{"ECOSYSTEM", []Event{ev("i", "2.0"), ev("f", "2.15.0")}}, "2.14.1", true, "2.15.0"},
		{"rpm", "Red Hat", Range{"ECOSYSTEM", []Event{ev("i", "0"), ev("f", "1:3.0.7-27.el9")}}, "1:3.0.7-25.el9", true, "1:3.0.7-27.el9"},
		{"git ranges are not versions", "PyPI", Range{"GIT", []Event{ev("i", "0"), ev("f", "74ea7cf7a6")}}, "2.0", false, ""},
		{"limit only bounds git", "npm", Range{"SEMVER", []Event{ev("i", "0"), ev("x", "2.0.0")}}, "3.0.0", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := parseVersion(tt.ecosystem, tt.version)
			if err != nil {
				t.Fatalf("parse %s: %v", tt.version, err)
			}
			got, fixed := tt.r.holds(tt.ecosystem, v)
			if got != tt.want || fixed != tt.wantFixed {
				t.Errorf("holds(%s) = %v, %q; want %v, %q", tt.version, got, fixed, tt.want, tt.wantFixed)
			}
		})
	}
}

func TestNormalName(t *testing.T) {
	tests := []struct{ eco, name, want string }{
		{"PyPI", "PyYAML", "pyyaml"},
		{"PyPI", "zope.interface", "zope-interface"},
		{"PyPI", "Foo__Bar-.baz", "foo-bar-baz"},
		{"npm", "Axios", "axios"},
		{"npm", "@ctrl/tinycolor", "@ctrl/tinycolor"},
		{"Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"},
		{"Debian:12", "glibc", "glibc"},
	}
	for _, tt := range tests {
		if got := NormalName(tt.eco, tt.name); got != tt.want {
			t.Errorf("NormalName(%q, %q) = %q, want %q", tt.eco, tt.name, got, tt.want)
		}
	}
}
