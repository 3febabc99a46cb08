//go:build e2e

package conformance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"breakwater/test/harness"
)

// suiteTimeout bounds one run of the suite; a read-only run over a few
// dozen inputs takes seconds.
const suiteTimeout = 3 * time.Minute

// suiteBinary finds the conformance binary that install.sh puts in the Go
// bin directory; go install names it after the module's last element.
func suiteBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BREAKWATER_CONFORMANCE_BIN"); p != "" {
		return p
	}
	return harness.LookPath(t, "conformance")
}

// target is where the suite sends its requests.
type target struct {
	// Registry is host:port, spoken to in plain HTTP; Repo is the
	// repository as clients of that registry name it.
	Registry, Repo string
	// Username and Password are empty for anonymous pulls.
	Username, Password string
}

// runSuite runs the suite's read-only group against to and checks its
// result files. The suite runs in an empty directory of its own, because
// it silently reads an oci-conformance.yaml from its working directory,
// and with none of the caller's OCI_* variables, which it would read as
// configuration.
func runSuite(t *testing.T, bin string, to target, d seedData) {
	t.Helper()
	work := t.TempDir()
	results := filepath.Join(work, "results")

	env := []string{
		"OCI_REGISTRY=" + to.Registry,
		"OCI_TLS=disabled",
		"OCI_REPO1=" + to.Repo,
		"OCI_USERNAME=" + to.Username,
		"OCI_PASSWORD=" + to.Password,
		"OCI_RESULTS_DIR=" + results,
		// Read-only: nothing pushed, nothing deleted. The stock binary
		// crashes writing its results with push off unless the run is
		// limited to the read-only group.
		"OCI_API_PUSH=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_FILTER_TEST=OCI Conformance Test/read-only",
		// Blob responses must carry a Docker-Content-Digest (and the
		// suite checks it matches). The manifest twin of this switch
		// cannot be used: in read-only mode the suite never looks at
		// the manifest response headers, so it would always fail;
		// checkHeaders covers them instead.
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_RO_DATA_TAGS=" + strings.Join(d.Tags, " "),
		"OCI_RO_DATA_MANIFESTS=" + strings.Join(d.Manifests, " "),
		"OCI_RO_DATA_BLOBS=" + strings.Join(d.Blobs, " "),
		"OCI_RO_DATA_REFERRERS=" + strings.Join(d.Referrers, " "),
	}

	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = work
	cmd.Env = append(withoutOCI(os.Environ()), env...)
	out, runErr := cmd.CombinedOutput()

	want := Expect{
		Tags:      len(d.Tags),
		Manifests: len(d.Manifests),
		Blobs:     len(d.Blobs),
		Referrers: len(d.Referrers),
	}
	if err := Check(results, want); err != nil {
		t.Errorf("conformance suite against %s/%s: %v\nexit: %v\n--- suite output ---\n%s",
			to.Registry, to.Repo, err, runErr, out)
		return
	}
	if runErr != nil {
		t.Errorf("conformance suite against %s/%s: results pass but the run failed: %v\n--- suite output ---\n%s",
			to.Registry, to.Repo, runErr, out)
	}
}

// withoutOCI drops every OCI_* variable from env.
func withoutOCI(env []string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OCI_") {
			kept = append(kept, kv)
		}
	}
	return kept
}
