package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Skopeo runs skopeo with no credentials and no TLS verification for the
// source; extra arguments (e.g. "--override-arch", "arm64") come first.
type Skopeo struct {
	skopeo string
}

// NewSkopeo finds skopeo.
func NewSkopeo(t testing.TB) *Skopeo {
	t.Helper()
	return &Skopeo{skopeo: LookPath(t, "skopeo")}
}

// InspectDigest returns the Digest skopeo inspect reports for
// docker://ref.
func (s *Skopeo) InspectDigest(t testing.TB, ref string, extra ...string) string {
	t.Helper()
	args := append(append([]string{}, extra...), "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+ref)
	return Run(t, PullTimeout, s.skopeo, args...)
}

// CopyErr copies docker://ref to dest (e.g. "oci:DIR:tag" or "dir:DIR")
// and returns the error instead of failing, for concurrent use.
func (s *Skopeo) CopyErr(ref, dest string, extra ...string) error {
	args := append(append([]string{}, extra...), "copy", "--quiet", "--src-tls-verify=false", "docker://"+ref, dest)
	_, err := RunErr(PullTimeout, s.skopeo, args...)
	return err
}

// Copy is CopyErr failing the test on error.
func (s *Skopeo) Copy(t testing.TB, ref, dest string, extra ...string) {
	t.Helper()
	if err := s.CopyErr(ref, dest, extra...); err != nil {
		t.Fatal(err)
	}
}

// OCILayoutDigest returns the digest of the single manifest in an OCI
// layout directory's index.json.
func OCILayoutDigest(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatalf("read oci layout: %v", err)
	}
	var idx struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("oci layout index.json: %d manifests, %v; want 1:\n%s", len(idx.Manifests), err, b)
	}
	return idx.Manifests[0].Digest
}

// DirManifestDigest returns the sha256 of manifest.json in a skopeo dir:
// destination, which holds the manifest bytes verbatim.
func DirManifestDigest(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("read dir manifest: %v", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
