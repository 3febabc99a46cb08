package conformance

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// readOnlyPrefix starts the name of every test case of the read-only
// group; a case outside it means the test filter did not apply.
const readOnlyPrefix = "OCI Conformance Test/read-only/"

// readOnlyData is the name results.yaml gives the read-only inputs.
const readOnlyData = "Read Only Inputs"

// outputLimit bounds how much of one test case's request and response log
// a problem quotes.
const outputLimit = 2000

// Expect is how many read-only inputs a run of the suite was given.
type Expect struct {
	Tags      int
	Manifests int
	Blobs     int
	Referrers int
}

// passes is the number of passing test cases such a run yields: a HEAD and
// a GET per tag, manifest and blob, one tag listing, and one referrers case
// covering every subject.
func (e Expect) passes() int {
	n := 2*(e.Tags+e.Manifests+e.Blobs) + 1
	if e.Referrers > 0 {
		n++
	}
	return n
}

// apis names the suite's APIs that such a run exercises, as results.yaml
// spells them.
func (e Expect) apis() []string {
	apis := []string{
		"Manifest get by tag",
		"Manifest head by tag",
		"Manifest get by digest",
		"Manifest head by digest",
		"Blob get",
		"Blob head",
		"Tag listing",
	}
	if e.Referrers > 0 {
		apis = append(apis, "Referrers")
	}
	return apis
}

// Check reads results.yaml and junit.xml from the suite's results
// directory and returns an error listing every way they fall short of a
// full pass of the read-only group with the inputs in want: a missing or
// empty file, an API or the read-only data not marked Pass, a failing or
// erroring test case (quoted with its request and response), or fewer
// passing cases than the inputs call for.
func Check(dir string, want Expect) error {
	if want.Tags == 0 || want.Manifests == 0 || want.Blobs == 0 {
		return fmt.Errorf("check results: want tags, manifests and blobs, got %+v", want)
	}
	var problems []string
	problems = append(problems, checkResultsYAML(filepath.Join(dir, "results.yaml"), want)...)
	problems = append(problems, checkJUnit(filepath.Join(dir, "junit.xml"), want)...)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// resultsYAML is the part of results.yaml that Check reads.
type resultsYAML struct {
	APIs map[string]string `yaml:"apis"`
	Data map[string]string `yaml:"data"`
}

func checkResultsYAML(path string, want Expect) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("read results: %v", err)}
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return []string{"results.yaml is empty"}
	}
	var r resultsYAML
	if err := yaml.Unmarshal(b, &r); err != nil {
		return []string{fmt.Sprintf("parse results.yaml: %v", err)}
	}

	var problems []string
	if got := r.Data[readOnlyData]; got != "Pass" {
		problems = append(problems, fmt.Sprintf("results.yaml: data %q is %q, want \"Pass\"", readOnlyData, got))
	}
	for _, api := range want.apis() {
		if got := r.APIs[api]; got != "Pass" {
			problems = append(problems, fmt.Sprintf("results.yaml: api %q is %q, want \"Pass\"", api, got))
		}
	}
	return problems
}

// The parts of junit.xml that Check reads.
type (
	junitSuites struct {
		Suites []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name   string `xml:"name,attr"`
		Status string `xml:"status,attr"`
		// Out holds the suite's error text, Err the requests and
		// responses of the case.
		Out string `xml:"system-out"`
		Err string `xml:"system-err"`
	}
)

func checkJUnit(path string, want Expect) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("read results: %v", err)}
	}
	var j junitSuites
	if err := xml.Unmarshal(b, &j); err != nil {
		return []string{fmt.Sprintf("parse junit.xml: %v", err)}
	}
	if len(j.Suites) == 0 {
		return []string{"junit.xml holds no test suite"}
	}

	var problems []string
	passed := 0
	for _, s := range j.Suites {
		if s.Failures != 0 || s.Errors != 0 {
			problems = append(problems, fmt.Sprintf("junit.xml: failures=%d errors=%d, want 0 and 0", s.Failures, s.Errors))
		}
		for _, c := range s.Cases {
			switch {
			case !strings.HasPrefix(c.Name, readOnlyPrefix):
				problems = append(problems, fmt.Sprintf("junit.xml: case %q is outside the read-only group", c.Name))
			case c.Status == "passed":
				passed++
			case c.Status == "failure" || c.Status == "error":
				problems = append(problems, describeCase(c))
			}
		}
	}
	if passed != want.passes() {
		problems = append(problems, fmt.Sprintf(
			"junit.xml: %d cases passed, want %d (HEAD and GET of %d tags, %d manifests and %d blobs, the tag list, referrers of %d subjects)",
			passed, want.passes(), want.Tags, want.Manifests, want.Blobs, want.Referrers))
	}
	return problems
}

// describeCase quotes a failed case: its name, the suite's reason and the
// start of its request and response log.
func describeCase(c junitCase) string {
	log := strings.TrimSpace(c.Err)
	if len(log) > outputLimit {
		log = log[:outputLimit] + "\n...(cut)"
	}
	return fmt.Sprintf("%s: %s\n  reason: %s\n  exchange:\n%s",
		c.Name, c.Status, strings.TrimSpace(c.Out), log)
}
