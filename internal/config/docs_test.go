package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestExamplesLoad loads and validates every file in examples/, so an
// example cannot drift from what breakwater accepts.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.y*ml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d example configs in examples/, want at least 2", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f, nil, Flags{}); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestConfigurationDoc checks that docs/configuration.md names every key
// and every environment variable, so the one list of them stays whole.
func TestConfigurationDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	var want []string
	for _, v := range envVars() {
		want = append(want, "`"+v[1]+"`", v[0])
	}
	want = append(want, docKeys(reflect.TypeOf(Config{}), "", false)...)
	want = append(want, envDefaultUpstream)
	for _, k := range defaultUpstreamEnvKeys {
		want = append(want, envName("upstream."+k))
	}
	for _, k := range upstreamEnvKeys {
		want = append(want, envUpstreamsPrefix+"<NAME>_"+strings.ToUpper(k))
	}
	for _, w := range want {
		if !strings.Contains(doc, w) {
			t.Errorf("docs/configuration.md does not mention %s", w)
		}
	}
}

// docKeys lists how the doc must name every key of type t: the whole path
// ("`firewall.wait`") outside lists, the key alone ("`min_score`") inside
// one, where each entry's keys get a table of their own.
func docKeys(t reflect.Type, path string, inList bool) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		p := join(path, yamlKey(f))
		switch {
		case isInline(f):
			p = path
		case f.Type.Kind() == reflect.Struct:
			// a section: its keys are named, not the section itself
		case inList:
			out = append(out, "`"+yamlKey(f)+"`")
		default:
			out = append(out, "`"+p+"`")
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct:
			out = append(out, docKeys(ft, p, inList)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, docKeys(ft.Elem(), p, true)...)
		}
	}
	return out
}
