package registry

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"breakwater/internal/oci"
)

var nodeTags = []string{"1", "1.0", "2", "latest", "slim"}

func TestTagsList(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		wantName string
		wantTags []string
		wantLink string
	}{
		{name: "all", target: "/v2/node/tags/list", wantName: "node", wantTags: nodeTags},
		{name: "all after last", target: "/v2/node/tags/list?last=2", wantName: "node", wantTags: []string{"latest", "slim"}},
		{name: "name as sent", target: "/v2/docker.io/library/node/tags/list", wantName: "docker.io/library/node", wantTags: nodeTags},
		{name: "first page", target: "/v2/node/tags/list?n=2", wantName: "node", wantTags: []string{"1", "1.0"},
			wantLink: `</v2/node/tags/list?n=2&last=1.0>; rel="next"`},
		{name: "middle page", target: "/v2/node/tags/list?n=2&last=1.0", wantName: "node", wantTags: []string{"2", "latest"},
			wantLink: `</v2/node/tags/list?n=2&last=latest>; rel="next"`},
		{name: "last page", target: "/v2/node/tags/list?n=2&last=latest", wantName: "node", wantTags: []string{"slim"}},
		{name: "exact fit", target: "/v2/node/tags/list?n=5", wantName: "node", wantTags: nodeTags},
		{name: "zero", target: "/v2/node/tags/list?n=0", wantName: "node", wantTags: []string{}},
		{name: "past the end", target: "/v2/node/tags/list?last=zzz", wantName: "node", wantTags: []string{}},
		{name: "huge n", target: "/v2/node/tags/list?n=99999999", wantName: "node", wantTags: nodeTags},
		{name: "mirror ns kept", target: "/v2/library/node/tags/list?n=1&ns=docker.io", wantName: "library/node", wantTags: []string{"1"},
			wantLink: `</v2/library/node/tags/list?n=1&last=1&ns=docker.io>; rel="next"`},
	}
	b := newFakeBackend(t)
	b.tags[nodeRepo.String()] = nodeTags
	h := New(b, testRouter(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, h, "GET", tt.target)
			body := readBody(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d type %q, want 200 application/json (body %s)", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			var got tagList
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tagList{Name: tt.wantName, Tags: tt.wantTags}); diff != "" {
				t.Errorf("body (-got +want):\n%s", diff)
			}
			if got := resp.Header.Get("Link"); got != tt.wantLink {
				t.Errorf("Link = %q, want %q", got, tt.wantLink)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	repos := []string{"docker.io/library/debian", "docker.io/library/node", "ghcr.io/org/app", "quay.io/coreos/etcd"}
	tests := []struct {
		name     string
		target   string
		want     []string
		wantLink string
	}{
		{name: "all", target: "/v2/_catalog", want: repos},
		{name: "first page", target: "/v2/_catalog?n=1", want: repos[:1],
			wantLink: `</v2/_catalog?n=1&last=docker.io%2Flibrary%2Fdebian>; rel="next"`},
		{name: "after last", target: "/v2/_catalog?n=2&last=docker.io/library/node", want: repos[2:]},
		{name: "zero", target: "/v2/_catalog?n=0", want: []string{}},
	}
	b := newFakeBackend(t)
	b.repos = repos
	h := New(b, testRouter(t), Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, h, "GET", tt.target)
			var got catalogList
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, decode error %v; want 200 and JSON", resp.StatusCode, err)
			}
			if diff := cmp.Diff(got.Repositories, tt.want); diff != "" {
				t.Errorf("repositories (-got +want):\n%s", diff)
			}
			if got := resp.Header.Get("Link"); got != tt.wantLink {
				t.Errorf("Link = %q, want %q", got, tt.wantLink)
			}
		})
	}
}

var linkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// TestPaginationFollowsLinks walks tags and catalog page by page through
// the Link headers, as a client does, and checks nothing is lost or repeated.
func TestPaginationFollowsLinks(t *testing.T) {
	b := newFakeBackend(t)
	var tags []string
	for _, c := range "abcdefghijklmnopq" {
		tags = append(tags, string(c)+"-tag")
	}
	b.tags[appRepo.String()] = tags
	b.repos = tags
	h := New(b, testRouter(t), Options{})

	for _, start := range []string{"/v2/ghcr.io/org/app/tags/list?n=3", "/v2/_catalog?n=3"} {
		var got []string
		for target, pages := start, 0; target != ""; pages++ {
			if pages > len(tags) {
				t.Fatalf("%s: more than %d pages", start, len(tags))
			}
			resp := do(t, h, "GET", target)
			var page struct {
				Tags, Repositories []string
			}
			if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
				t.Fatal(err)
			}
			got = append(append(got, page.Tags...), page.Repositories...)
			target = ""
			if m := linkRE.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
				u, err := url.Parse(m[1])
				if err != nil {
					t.Fatal(err)
				}
				target = u.String()
			}
		}
		if diff := cmp.Diff(got, tags); diff != "" {
			t.Errorf("%s: pages joined (-got +want):\n%s", start, diff)
		}
	}
}

func TestReferrers(t *testing.T) {
	b := newFakeBackend(t)
	subject := digestOf("subject")
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	b.referrers[subject] = []byte(index)
	h := New(b, testRouter(t), Options{})

	for _, tt := range []struct {
		query       string
		wantFilters string
	}{
		{"", ""},
		{"?artifactType=application/vnd.example.sbom", "artifactType"},
	} {
		resp := do(t, h, "GET", "/v2/ghcr.io/org/app/referrers/"+subject.String()+tt.query)
		body := readBody(t, resp)
		if resp.StatusCode != 200 || body != index {
			t.Errorf("%s: %d %q, want 200 %q", tt.query, resp.StatusCode, body, index)
		}
		if got := resp.Header.Get("Content-Type"); got != oci.MediaTypeOCIIndex {
			t.Errorf("%s: Content-Type = %q, want %q", tt.query, got, oci.MediaTypeOCIIndex)
		}
		if got := resp.Header.Get("OCI-Filters-Applied"); got != tt.wantFilters {
			t.Errorf("%s: OCI-Filters-Applied = %q, want %q", tt.query, got, tt.wantFilters)
		}
	}
	if got := b.asked[0]; got != appRepo {
		t.Errorf("referrers asked for %v, want %v", got, appRepo)
	}
}

type fakeSearcher struct {
	url, query string
}

func (s *fakeSearcher) Search(ctx context.Context, searchURL, query string) ([]byte, error) {
	s.url, s.query = searchURL, query
	return []byte(`{"num_results":0,"results":[]}`), nil
}

func TestSearch(t *testing.T) {
	tests := []struct {
		target     string
		wantStatus int
		wantQuery  string
	}{
		{"/v1/search?q=node", 200, "q=node"},
		{"/v1/search?q=node+js&n=10&page=2&extra=1", 200, "n=10&page=2&q=node+js"},
		{"/v1/search?q=node&n=ten", 400, ""},
		{"/v1/search?q=node&page=-1", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			s := &fakeSearcher{}
			h := New(newFakeBackend(t), testRouter(t), Options{Search: s, SearchURL: "https://index.example/v1/search"})
			resp := do(t, h, "GET", tt.target)
			body := readBody(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if s.query != tt.wantQuery {
				t.Errorf("query sent = %q, want %q", s.query, tt.wantQuery)
			}
			if tt.wantStatus == 200 && (s.url != "https://index.example/v1/search" || body != `{"num_results":0,"results":[]}`) {
				t.Errorf("searched %q and answered %q, want the index's URL and its body", s.url, body)
			}
		})
	}
}

// TestRoutingReachesBackend checks that each form of a name reaches the
// backend as the same repository.
func TestRoutingReachesBackend(t *testing.T) {
	b := newFakeBackend(t)
	b.addManifest(nodeRepo, "20", oci.MediaTypeOCIManifest, []byte(`{}`))
	b.addManifest(appRepo, "v1", oci.MediaTypeOCIManifest, []byte(`{}`))
	h := New(b, testRouter(t), Options{})
	for _, target := range []string{
		"/v2/node/manifests/20",
		"/v2/library/node/manifests/20",
		"/v2/docker.io/library/node/manifests/20",
		"/v2/node/manifests/20?ns=docker.io",
		"/v2/library/node/manifests/20?ns=registry-1.docker.io",
		"/v2/ghcr.io/org/app/manifests/v1",
		"/v2/org/app/manifests/v1?ns=ghcr.io",
	} {
		resp := do(t, h, "GET", target)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200 (asked for %v)", target, resp.StatusCode, b.asked[len(b.asked)-1])
		}
	}
}
