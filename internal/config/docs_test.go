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
	ut := reflect.TypeOf(Upstream{})
	for i := 0; i < ut.NumField(); i++ {
		want = append(want, "`"+yamlKey(ut.Field(i))+"`")
	}
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
