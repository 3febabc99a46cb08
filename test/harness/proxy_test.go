package harness

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

func TestCountingProxyCountsBlobGETs(t *testing.T) {
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	p := StartCountingProxy(t, reg.URL)

	for _, format := range []Format{Docker, OCI} {
		t.Run(string(format), func(t *testing.T) {
			p.Reset()
			img := NewImage(t, ImageSpec{Format: format, Layers: 2})
			want := Push(t, p.Host+"/test/"+string(format)+":v1", img)
			if n := len(p.BlobGETs("")); n != 0 {
				t.Errorf("blob GETs after push = %d, want 0\n%s", n, p)
			}

			ref := p.Host + "/test/" + string(format) + ":v1"
			got := pullDigest(t, ref)
			if got != want.String() {
				t.Errorf("pulled digest = %s, want %s", got, want)
			}

			gets := p.BlobGETs("test/" + string(format))
			for _, b := range Blobs(t, img) {
				if gets[b.String()] != 1 {
					t.Errorf("GETs of blob %s = %d, want 1\n%s", b, gets[b.String()], p)
				}
			}
		})
	}
}

func pullDigest(t *testing.T, ref string) string {
	t.Helper()
	img := remoteImage(t, ref)
	ls, err := img.Layers()
	if err != nil {
		t.Fatalf("read layers of %s: %v", ref, err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("fetch layer: %v", err)
		}
		buf := new(strings.Builder)
		if _, err := copyAll(buf, rc); err != nil {
			t.Fatalf("read layer: %v", err)
		}
		rc.Close()
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("fetch config: %v", err)
	}
	return Digest(t, img).String()
}

func TestNewIndexPlatforms(t *testing.T) {
	tests := []struct {
		format Format
		want   string
	}{
		{Docker, "application/vnd.docker.distribution.manifest.list.v2+json"},
		{OCI, "application/vnd.oci.image.index.v1+json"},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			idx := NewIndex(t, tc.format, LinuxAMD64, LinuxARM64)
			mt, err := idx.MediaType()
			if err != nil || string(mt) != tc.want {
				t.Errorf("media type = %q, %v; want %q", mt, err, tc.want)
			}
			amd, arm := PlatformDigest(t, idx, LinuxAMD64), PlatformDigest(t, idx, LinuxARM64)
			if amd == arm {
				t.Errorf("platform digests are equal: %s", amd)
			}
			img, err := idx.Image(arm)
			if err != nil {
				t.Fatalf("open arm64 image: %v", err)
			}
			cfg, err := img.ConfigFile()
			if err != nil || cfg.Architecture != "arm64" {
				t.Errorf("arm64 image config architecture = %q, %v; want arm64", cfg.Architecture, err)
			}
		})
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name   string
		scopes []string
		authed bool
		want   string
	}{
		{"pull push", []string{"repository:library/debian:pull,push"}, true, "repository library/debian [pull push]"},
		{"anonymous pull only", []string{"repository:a/b:pull,push"}, false, "repository a/b [pull]"},
		{"colon in name", []string{"repository:host:5000/x:pull"}, true, "repository host:5000/x [pull]"},
		{"space separated", []string{"repository:a:pull repository:b:pull"}, true, "repository a [pull];repository b [pull]"},
		{"malformed", []string{"nonsense"}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var parts []string
			for _, a := range parseScopes(tc.scopes, tc.authed) {
				parts = append(parts, a.Type+" "+a.Name+" ["+strings.Join(a.Actions, " ")+"]")
			}
			if got := strings.Join(parts, ";"); got != tc.want {
				t.Errorf("parseScopes(%q) = %q, want %q", tc.scopes, got, tc.want)
			}
		})
	}
}

func TestCountingProxyStopStart(t *testing.T) {
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	p := StartCountingProxy(t, reg.URL)

	get := func() error {
		resp, err := http.Get(p.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("GET while running: %v", err)
	}
	p.Stop(t)
	if err := get(); err == nil {
		t.Errorf("GET while stopped succeeded, want connection error")
	}
	p.Start(t)
	if err := get(); err != nil {
		t.Fatalf("GET after restart: %v", err)
	}
	if got := p.Count("GET", "/v2/"); got != 2 {
		t.Errorf("Count(GET /v2/) = %d, want 2", got)
	}
}
