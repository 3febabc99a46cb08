package upstream

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/oci"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return u
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   *challenge
	}{
		{"docker hub", []string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull"`},
			&challenge{"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/node:pull"}}},
		{"spaces and case", []string{`bearer  Realm = "https://a/t" , service=reg`},
			&challenge{"bearer", map[string]string{"realm": "https://a/t", "service": "reg"}}},
		{"escaped quote", []string{`Basic realm="say \"hi\", please"`},
			&challenge{"basic", map[string]string{"realm": `say "hi", please`}}},
		{"bearer preferred", []string{`Basic realm="r"`, `Bearer realm="https://a/t"`},
			&challenge{"bearer", map[string]string{"realm": "https://a/t"}}},
		{"bearer without realm falls back", []string{`Bearer service="x"`, `Basic realm="r"`},
			&challenge{"basic", map[string]string{"realm": "r"}}},
		{"unknown scheme", []string{`Negotiate abc`}, nil},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseChallenges(tt.values)
			if ok != (tt.want != nil) {
				t.Fatalf("parseChallenges ok = %v, want %v", ok, tt.want != nil)
			}
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(challenge{})); diff != "" {
				t.Errorf("parseChallenges (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := retryAfter(http.Header{"Retry-After": {tt.value}}, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseQuota(t *testing.T) {
	tests := []struct {
		value      string
		wantN      int
		wantWindow time.Duration
		wantOK     bool
	}{
		{"100;w=21600", 100, 6 * time.Hour, true},
		{"76", 76, 0, true},
		{" 5 ; w=60", 5, time.Minute, true},
		{"", 0, 0, false},
		{"-1;w=60", 0, 0, false},
		{"lots", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			n, w, ok := parseQuota(tt.value)
			if n != tt.wantN || w != tt.wantWindow || ok != tt.wantOK {
				t.Errorf("parseQuota(%q) = %d, %v, %v; want %d, %v, %v", tt.value, n, w, ok, tt.wantN, tt.wantWindow, tt.wantOK)
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	base := mustURL(t, "https://reg.example/v2/app/tags/list")
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"relative", []string{`</v2/app/tags/list?last=b&n=2>; rel="next"`}, "https://reg.example/v2/app/tags/list?last=b&n=2"},
		{"absolute", []string{`<https://other.example/x>; rel=next`}, "https://other.example/x"},
		{"among others", []string{`</prev>; rel="prev", </next>; rel="next"`}, "https://reg.example/next"},
		{"no next", []string{`</prev>; rel="prev"`}, ""},
		{"malformed", []string{`/next; rel="next"`}, ""},
		{"none", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextLink(base, tt.values); got != tt.want {
				t.Errorf("nextLink = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		status int
		codes  []string
		want   *oci.Error
	}{
		{404, []string{"MANIFEST_UNKNOWN"}, oci.ErrManifestUnknown},
		{404, []string{"NAME_UNKNOWN"}, oci.ErrNameUnknown},
		{404, []string{"BLOB_UNKNOWN"}, oci.ErrBlobUnknown},
		{404, nil, oci.ErrBlobUnknown}, // the caller's default
		{401, []string{"UNAUTHORIZED"}, oci.ErrDenied},
		{403, []string{"DENIED"}, oci.ErrDenied},
		{429, []string{"TOOMANYREQUESTS"}, oci.ErrTooManyRequests},
		{500, nil, oci.ErrUnavailable},
		{503, nil, oci.ErrUnavailable},
		{400, []string{"WEIRD"}, oci.ErrUnavailable},
	}
	for _, tt := range tests {
		if got := kindOf(tt.status, tt.codes, oci.ErrBlobUnknown); got != tt.want {
			t.Errorf("kindOf(%d, %v) = %s, want %s", tt.status, tt.codes, got.Code, tt.want.Code)
		}
	}
}

func TestMediaType(t *testing.T) {
	body := []byte(`{"mediaType":"application/vnd.oci.image.index.v1+json"}`)
	tests := []struct {
		contentType string
		body        []byte
		want        string
	}{
		{"application/vnd.docker.distribution.manifest.v2+json", body, oci.MediaTypeDockerManifest},
		{"application/vnd.oci.image.manifest.v1+json; charset=utf-8", nil, oci.MediaTypeOCIManifest},
		{"application/json", body, oci.MediaTypeOCIIndex},
		{"", body, oci.MediaTypeOCIIndex},
		{"application/octet-stream", []byte(`{}`), "application/octet-stream"},
	}
	for _, tt := range tests {
		if got := mediaType(tt.contentType, tt.body); got != tt.want {
			t.Errorf("mediaType(%q) = %q, want %q", tt.contentType, got, tt.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	reg := mustURL(t, "https://registry.example")
	tests := []struct {
		url  string
		want bool
	}{
		{"https://registry.example/v2/", true},
		{"https://registry.example:443/v2/", true},
		{"https://REGISTRY.example/v2/", true},
		{"http://registry.example/v2/", false},
		{"https://registry.example:8443/v2/", false},
		{"https://cdn.registry.example/blob", false},
		{"https://registry.example.evil/v2/", false},
	}
	for _, tt := range tests {
		if got := sameOrigin(mustURL(t, tt.url), reg); got != tt.want {
			t.Errorf("sameOrigin(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
