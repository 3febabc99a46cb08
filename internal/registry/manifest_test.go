package registry

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

func TestBase(t *testing.T) {
	h := New(newFakeBackend(t), testRouter(t), Options{})
	for _, target := range []string{"/v2/", "/v2"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp := do(t, h, method, target)
			body := readBody(t, resp)
			want := "{}"
			if method == "HEAD" {
				want = ""
			}
			if resp.StatusCode != 200 || body != want {
				t.Errorf("%s %s = %d %q, want 200 %q", method, target, resp.StatusCode, body, want)
			}
			if got := resp.Header.Get(apiVersionHeader); got != "registry/2.0" {
				t.Errorf("%s %s: %s = %q, want registry/2.0", method, target, apiVersionHeader, got)
			}
		}
	}
}

// manifestHeaders are the headers GET and HEAD must agree on.
var manifestHeaders = []string{"Content-Type", "Content-Length", "Docker-Content-Digest", "ETag", apiVersionHeader}

func TestManifestHeadEqualsGet(t *testing.T) {
	b := newFakeBackend(t)
	bodies := map[string]string{
		oci.MediaTypeOCIManifest:        `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`,
		oci.MediaTypeDockerManifest:     `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}` + "\n",
		oci.MediaTypeOCIIndex:           `{"schemaVersion":2,"manifests":[]}`,
		oci.MediaTypeDockerManifestList: `{"schemaVersion":2,"manifests":[]}  `,
	}
	var targets []string
	want := map[string]string{}
	for mt, body := range bodies {
		d := b.addManifest(nodeRepo, "t"+digest.FromString(mt).Encoded()[:8], mt, []byte(body))
		for _, ref := range []string{"t" + digest.FromString(mt).Encoded()[:8], d.String()} {
			for _, name := range []string{"node", "library/node", "docker.io/library/node"} {
				target := "/v2/" + name + "/manifests/" + ref
				targets = append(targets, target)
				want[target] = body
			}
		}
	}

	h := New(b, testRouter(t), Options{})
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			get := do(t, h, "GET", target)
			head := do(t, h, "HEAD", target)
			if get.StatusCode != 200 || head.StatusCode != 200 {
				t.Fatalf("GET, HEAD status = %d, %d; want 200, 200", get.StatusCode, head.StatusCode)
			}
			if body := readBody(t, get); body != want[target] {
				t.Errorf("GET body = %q, want the stored bytes %q", body, want[target])
			}
			if body := readBody(t, head); body != "" {
				t.Errorf("HEAD body = %q, want none", body)
			}
			for _, k := range manifestHeaders {
				if get.Header.Get(k) == "" || get.Header.Get(k) != head.Header.Get(k) {
					t.Errorf("%s: GET %q, HEAD %q; want equal and set", k, get.Header.Get(k), head.Header.Get(k))
				}
			}
			d := digest.FromString(want[target])
			if got := get.Header.Get("Docker-Content-Digest"); got != d.String() {
				t.Errorf("Docker-Content-Digest = %s, want %s", got, d)
			}
			if got := get.Header.Get("Content-Length"); got != fmt.Sprint(len(want[target])) {
				t.Errorf("Content-Length = %s, want %d", got, len(want[target]))
			}
		})
	}
}

// notModifiedCases are If-None-Match values for content of digest d, and
// whether each makes a GET or HEAD answer 304.
func notModifiedCases(d digest.Digest) []struct {
	name, header string
	want304      bool
} {
	return []struct {
		name, header string
		want304      bool
	}{
		{"none", "", false},
		{"same", etag(d), true},
		{"weak", "W/" + etag(d), true},
		{"in a list", `"sha256:old", ` + etag(d), true},
		{"any", "*", true},
		{"bare digest", d.String(), true},
		{"other", `"sha256:old"`, false},
	}
}

// checkNotModified checks one answer to an If-None-Match request for d.
func checkNotModified(t *testing.T, resp *http.Response, d digest.Digest, want304 bool, wantBody string) {
	t.Helper()
	body := readBody(t, resp)
	wantStatus := http.StatusOK
	if want304 {
		wantStatus, wantBody = http.StatusNotModified, ""
	}
	if resp.StatusCode != wantStatus || body != wantBody {
		t.Errorf("status, body = %d, %q; want %d, %q", resp.StatusCode, body, wantStatus, wantBody)
	}
	if got := resp.Header.Get("ETag"); got != etag(d) {
		t.Errorf("ETag = %q, want %q", got, etag(d))
	}
	if got := resp.Header.Get("Docker-Content-Digest"); got != d.String() {
		t.Errorf("Docker-Content-Digest = %q, want %s", got, d)
	}
}

func TestManifestNotModified(t *testing.T) {
	b := newFakeBackend(t)
	const body = `{"schemaVersion":2}`
	d := b.addManifest(nodeRepo, "latest", oci.MediaTypeOCIManifest, []byte(body))
	h := New(b, testRouter(t), Options{})
	for _, tt := range notModifiedCases(d) {
		for _, method := range []string{"GET", "HEAD"} {
			for _, ref := range []string{"latest", d.String()} {
				t.Run(tt.name+"/"+method+"/"+ref, func(t *testing.T) {
					var header []string
					if tt.header != "" {
						header = []string{"If-None-Match", tt.header}
					}
					resp := do(t, h, method, "/v2/node/manifests/"+ref, header...)
					wantBody := body
					if method == "HEAD" {
						wantBody = ""
					}
					checkNotModified(t, resp, d, tt.want304, wantBody)
				})
			}
		}
	}
}

func TestManifestNegotiation(t *testing.T) {
	b := newFakeBackend(t)
	amd64 := b.addManifest(nodeRepo, "", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"amd64"}}`))
	arm64 := b.addManifest(nodeRepo, "", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"arm64"}}`))
	entry := func(d digest.Digest, arch string) string {
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":10,"platform":{"architecture":%q,"os":"linux"}}`, oci.MediaTypeOCIManifest, d, arch)
	}
	index := b.addManifest(nodeRepo, "multi", oci.MediaTypeOCIIndex,
		[]byte(`{"schemaVersion":2,"manifests":[`+entry(arm64, "arm64")+`,`+entry(amd64, "amd64")+`]}`))
	armOnly := b.addManifest(nodeRepo, "arm", oci.MediaTypeDockerManifestList,
		[]byte(`{"schemaVersion":2,"manifests":[`+entry(arm64, "arm64")+`]}`))
	missing := digest.FromString("missing child")
	b.addManifest(nodeRepo, "broken", oci.MediaTypeOCIIndex,
		[]byte(`{"schemaVersion":2,"manifests":[`+entry(missing, "amd64")+`]}`))
	single := b.addManifest(nodeRepo, "single", oci.MediaTypeDockerManifest, []byte(`{"schemaVersion":2}`))

	tests := []struct {
		name       string
		tag        string
		accept     []string
		wantStatus int
		want       digest.Digest
	}{
		{name: "no accept", tag: "multi", want: index},
		{name: "accepts index", tag: "multi", accept: []string{oci.MediaTypeOCIIndex}, want: index},
		{name: "accepts anything", tag: "multi", accept: []string{"*/*"}, want: index},
		{name: "accepts application", tag: "multi", accept: []string{"application/*"}, want: index},
		{name: "docker style header lines", tag: "multi", accept: []string{oci.MediaTypeDockerManifest, oci.MediaTypeOCIIndex}, want: index},
		{name: "single manifests only", tag: "multi", accept: []string{oci.MediaTypeDockerManifest + ", " + oci.MediaTypeOCIManifest}, want: amd64},
		{name: "oci manifest only", tag: "multi", accept: []string{oci.MediaTypeOCIManifest}, want: amd64},
		{name: "index refused by q=0", tag: "multi", accept: []string{oci.MediaTypeOCIIndex + ";q=0, " + oci.MediaTypeOCIManifest + ";q=0.9"}, want: amd64},
		{name: "accepts nothing known", tag: "multi", accept: []string{"application/json"}, want: index},
		{name: "no linux/amd64 entry", tag: "arm", accept: []string{oci.MediaTypeDockerManifest}, want: armOnly},
		{name: "stored single served as is", tag: "single", accept: []string{oci.MediaTypeOCIManifest}, want: single},
		{name: "child missing", tag: "broken", accept: []string{oci.MediaTypeOCIManifest}, wantStatus: http.StatusNotFound},
	}
	h := New(b, testRouter(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			for _, a := range tt.accept {
				header = append(header, "Accept", a)
			}
			for _, method := range []string{"GET", "HEAD"} {
				resp := do(t, h, method, "/v2/node/manifests/"+tt.tag, header...)
				body := readBody(t, resp)
				if tt.wantStatus != 0 {
					if resp.StatusCode != tt.wantStatus {
						t.Errorf("%s status = %d, want %d", method, resp.StatusCode, tt.wantStatus)
					}
					continue
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != tt.want.String() {
					t.Errorf("%s served %s, want %s", method, got, tt.want)
				}
				if method == "GET" && digest.FromString(body) != tt.want {
					t.Errorf("GET body digest %s, want %s", digest.FromString(body), tt.want)
				}
			}
		})
	}
}

func TestAcceptedTypes(t *testing.T) {
	got := acceptedTypes([]string{
		"application/vnd.oci.image.index.v1+json;q=0, application/vnd.oci.image.manifest.v1+json",
		"application/json; q=0.5",
		"garbage;;;",
	})
	want := []string{"application/vnd.oci.image.manifest.v1+json", "application/json"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("acceptedTypes (-got +want):\n%s", diff)
	}
}
