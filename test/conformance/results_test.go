package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// passingYAML is results.yaml as the suite writes it after a full pass of
// the read-only group with referrers (configuration cut).
const passingYAML = `config:
  registry: 127.0.0.1:5000
apis:
  Blob delete: Disabled
  Blob get: Pass
  Blob head: Pass
  Manifest get by digest: Pass
  Manifest get by tag: Pass
  Manifest head by digest: Pass
  Manifest head by tag: Pass
  Manifest put by tag: Disabled
  Referrers: Pass
  Tag listing: Pass
data:
  Read Only Inputs: Pass
`

// junitXML renders junit.xml as the suite writes it, with one case per
// status given.
func junitXML(failures, errs int, cases ...junitCase) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<testsuites tests=\"%d\">\n", len(cases))
	fmt.Fprintf(&b, "  <testsuite name=\"OCI Conformance Test\" tests=\"%d\" failures=\"%d\" errors=\"%d\">\n",
		len(cases), failures, errs)
	for _, c := range cases {
		fmt.Fprintf(&b, "    <testcase name=%q status=%q><system-out>%s</system-out><system-err>%s</system-err></testcase>\n",
			c.Name, c.Status, c.Out, c.Err)
	}
	b.WriteString("  </testsuite>\n</testsuites>\n")
	return b.String()
}

// passingCases returns the cases of a full pass for one tag, one manifest,
// one blob and one subject, plus a disabled push case.
func passingCases() []junitCase {
	names := []string{
		"tag-list",
		"head/manifest-head-by-tag", "head/manifest-head-by-digest", "head/blob-head",
		"pull/manifest-by-tag", "pull/manifest-by-digest", "pull/blob-get",
		"referrers",
	}
	cases := []junitCase{{Name: readOnlyPrefix + "push/manifest-by-tag", Status: "skipped"}}
	for _, n := range names {
		cases = append(cases, junitCase{Name: readOnlyPrefix + n, Status: "passed"})
	}
	return cases
}

func TestCheck(t *testing.T) {
	one := Expect{Tags: 1, Manifests: 1, Blobs: 1, Referrers: 1}
	failing := passingCases()
	failing[len(failing)-1] = junitCase{
		Name:   readOnlyPrefix + "referrers",
		Status: "failure",
		Out:    "unexpected status code, expected one of [200], received 404",
		Err:    "Method: GET URL: http://127.0.0.1:5000/v2/r/referrers/sha256:1",
	}

	tests := []struct {
		name  string
		yaml  string // "" leaves results.yaml out
		junit string // "" leaves junit.xml out
		want  Expect
		// errs are substrings the error must hold; none means no error.
		errs []string
	}{
		{
			name:  "full pass",
			yaml:  passingYAML,
			junit: junitXML(0, 0, passingCases()...),
			want:  one,
		},
		{
			name:  "failed case is quoted",
			yaml:  strings.Replace(passingYAML, "Referrers: Pass", "Referrers: FAIL", 1),
			junit: junitXML(1, 0, failing...),
			want:  one,
			errs: []string{
				`api "Referrers" is "FAIL"`,
				"failures=1 errors=0",
				readOnlyPrefix + "referrers: failure",
				"received 404",
				"/v2/r/referrers/sha256:1",
				"7 cases passed, want 8",
			},
		},
		{
			name:  "empty results.yaml",
			yaml:  "\n",
			junit: junitXML(0, 0, passingCases()...),
			want:  one,
			errs:  []string{"results.yaml is empty"},
		},
		{
			name:  "missing files",
			want:  one,
			errs:  []string{"results.yaml: no such file", "junit.xml: no such file"},
			yaml:  "",
			junit: "",
		},
		{
			name:  "read-only data not tested",
			yaml:  "apis:\n  Ping: Pass\ndata: {}\n",
			junit: junitXML(0, 0),
			want:  one,
			errs: []string{
				`data "Read Only Inputs" is "", want "Pass"`,
				`api "Manifest get by tag" is ""`,
				"0 cases passed, want 8",
			},
		},
		{
			name:  "an input left untested",
			yaml:  passingYAML,
			junit: junitXML(0, 0, passingCases()...),
			want:  Expect{Tags: 2, Manifests: 1, Blobs: 1, Referrers: 1},
			errs:  []string{"8 cases passed, want 10"},
		},
		{
			name:  "case outside the read-only group",
			yaml:  passingYAML,
			junit: junitXML(0, 0, append(passingCases(), junitCase{Name: "OCI Conformance Test/ping", Status: "passed"})...),
			want:  one,
			errs:  []string{`case "OCI Conformance Test/ping" is outside the read-only group`},
		},
		{
			name:  "error status",
			yaml:  passingYAML,
			junit: junitXML(0, 1, passingCases()...),
			want:  one,
			errs:  []string{"failures=0 errors=1"},
		},
		{
			name:  "no inputs",
			yaml:  passingYAML,
			junit: junitXML(0, 0, passingCases()...),
			want:  Expect{},
			errs:  []string{"want tags, manifests and blobs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeIf(t, filepath.Join(dir, "results.yaml"), tt.yaml)
			writeIf(t, filepath.Join(dir, "junit.xml"), tt.junit)

			err := Check(dir, tt.want)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check() = nil, want an error holding %q", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check() = %v\nwant it to hold %q", err, want)
				}
			}
		})
	}
}

func writeIf(t *testing.T, path, content string) {
	t.Helper()
	if content == "" {
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
