package registry

import "testing"

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want request
	}{
		{"/v2/", request{kind: endpointBase}},
		{"/v2/_catalog", request{kind: endpointCatalog}},
		{"/v1/search", request{kind: endpointSearch}},
		{"/v2/node/manifests/latest", request{kind: endpointManifest, name: "node", ref: "latest"}},
		{"/v2/a/b/c/blobs/sha256:x", request{kind: endpointBlob, name: "a/b/c", ref: "sha256:x"}},
		{"/v2/a/tags/list", request{kind: endpointTags, name: "a"}},
		{"/v2/a/referrers/sha256:x", request{kind: endpointReferrers, name: "a", ref: "sha256:x"}},
		// The last marker wins: names may contain the words.
		{"/v2/a/manifests/b/manifests/c", request{kind: endpointManifest, name: "a/manifests/b", ref: "c"}},
		{"/v2/blobs/tags/list", request{kind: endpointTags, name: "blobs"}},
		{"/v2/a/blobs/b/tags/list", request{kind: endpointTags, name: "a/blobs/b"}},
		{"/v2/a/blobs/uploads/", request{kind: endpointUpload, name: "a"}},
		{"/v2/a%2Fb/manifests/x", request{kind: endpointManifest, name: "a%2Fb", ref: "x"}},
		{"/v2/manifests/x", request{}},
		{"/v2/a/tags/lists", request{}},
		{"/v2/a/manifests", request{}},
		{"/v2/_catalog/x", request{}},
		{"/v1/_ping", request{}},
		{"/", request{}},
	}
	for _, tt := range tests {
		if got := parsePath(tt.path); got != tt.want {
			t.Errorf("parsePath(%q) = %+v, want %+v", tt.path, got, tt.want)
		}
	}
}
