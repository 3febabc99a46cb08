//go:build e2e

package conformance

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"breakwater/test/harness"
)

// The suite, in read-only mode, looks neither at the headers of manifest
// responses nor at what the referrers list holds, only at status codes
// and the list's media type. These checks cover that ground with the
// same requests, against what seed knows it pushed.

var client = &http.Client{Timeout: 30 * time.Second}

// checkHeaders fetches every tag and manifest digest with GET and HEAD and
// the suite's Accept header, and checks status, Docker-Content-Digest,
// Content-Type and Content-Length, and that the body hashes to the digest.
func checkHeaders(t *testing.T, base, repo string, d seedData) {
	t.Helper()
	want := map[string]string{}
	for tag, dig := range d.tagged {
		want[tag] = dig
	}
	for _, dig := range d.Manifests {
		want[dig] = dig
	}
	refs := make([]string, 0, len(want))
	for ref := range want {
		refs = append(refs, ref)
	}
	slices.Sort(refs)

	for _, ref := range refs {
		url := base + "/v2/" + repo + "/manifests/" + ref
		get, body := fetch(t, http.MethodGet, url)
		head, _ := fetch(t, http.MethodHead, url)
		if get == nil || head == nil {
			continue
		}
		if got := digestOf(body); get.StatusCode == http.StatusOK && got != want[ref] {
			t.Errorf("GET %s: body hashes to %s, want %s", url, got, want[ref])
		}
		for _, r := range []*http.Response{get, head} {
			checkManifestResponse(t, r, want[ref], len(body))
		}
	}
}

func checkManifestResponse(t *testing.T, r *http.Response, digest string, size int) {
	t.Helper()
	where := r.Request.Method + " " + r.Request.URL.String()
	if r.StatusCode != http.StatusOK {
		t.Errorf("%s: status %d, want 200", where, r.StatusCode)
		return
	}
	if got := r.Header.Get("Docker-Content-Digest"); got != digest {
		t.Errorf("%s: Docker-Content-Digest = %q, want %q", where, got, digest)
	}
	ct := r.Header.Get("Content-Type")
	if ct != string(types.OCIManifestSchema1) && ct != string(types.OCIImageIndex) {
		t.Errorf("%s: Content-Type = %q, want an OCI manifest or index", where, ct)
	}
	if got := r.Header.Get("Content-Length"); got != strconv.Itoa(size) {
		t.Errorf("%s: Content-Length = %q, want %d", where, got, size)
	}
}

// checkReferrers checks that the referrers list of every subject is an
// OCI index that names the artifact seed pushed, with its artifact type.
func checkReferrers(t *testing.T, base, repo string, d seedData) {
	t.Helper()
	for _, subject := range d.Referrers {
		if listed, ok := referrersList(t, base, repo, subject, d.artifact); ok && !listed {
			t.Errorf("GET %s/v2/%s/referrers/%s: no entry for %s with artifactType %s",
				base, repo, subject, d.artifact, sbomArtifactType)
		}
	}
}

// referrersList fetches the referrers of subject and reports whether they
// name artifact as the image-spec describes it. ok is false when the
// answer was no OCI index at all, which it reports.
func referrersList(t *testing.T, base, repo, subject, artifact string) (listed, ok bool) {
	t.Helper()
	url := base + "/v2/" + repo + "/referrers/" + subject
	r, body := fetch(t, http.MethodGet, url)
	if r == nil {
		return false, false
	}
	if r.StatusCode != http.StatusOK {
		t.Errorf("GET %s: status %d, want 200; body: %.300s", url, r.StatusCode, body)
		return false, false
	}
	if ct := r.Header.Get("Content-Type"); ct != string(types.OCIImageIndex) {
		t.Errorf("GET %s: Content-Type = %q, want %q", url, ct, types.OCIImageIndex)
		return false, false
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Errorf("GET %s: decode index: %v; body: %.300s", url, err, body)
		return false, false
	}
	listed = slices.ContainsFunc(idx.Manifests, func(m v1.Descriptor) bool {
		return m.Digest.String() == artifact &&
			m.ArtifactType == sbomArtifactType &&
			m.MediaType == types.OCIManifestSchema1
	})
	return listed, true
}

// checkNoDigestFetches fails for every request by digest, blob or
// manifest, that reached the upstream: on a warm cache none may.
func checkNoDigestFetches(t *testing.T, p *harness.CountingProxy) {
	t.Helper()
	for key, n := range p.Counts() {
		_, path, _ := strings.Cut(key, " ")
		if strings.Contains(path, "/blobs/") || strings.Contains(path, "/manifests/sha256:") {
			t.Errorf("warm cache: %s reached the upstream %d times, want 0", key, n)
		}
	}
}

// fetch sends one request with the suite's manifest Accept header and
// returns the response and its body; nil after reporting a transport
// error.
func fetch(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	req.Header.Add("Accept", string(types.OCIImageIndex))
	req.Header.Add("Accept", string(types.OCIManifestSchema1))
	r, err := client.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return nil, nil
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("%s %s: read body: %v", method, url, err)
		return nil, nil
	}
	return r, body
}

func digestOf(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.String()
}
