package registry

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/cache"
	"breakwater/internal/oci"
)

// denyGate withholds the listed digests and records what it was asked.
type denyGate struct {
	mu     sync.Mutex
	deny   map[digest.Digest]error
	judged []digest.Digest
}

func (g *denyGate) Manifest(ctx context.Context, repo cache.Repo, ref oci.Reference, m *cache.Manifest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.judged = append(g.judged, m.Digest)
	return g.deny[m.Digest]
}

func (g *denyGate) Blob(ctx context.Context, repo cache.Repo, d digest.Digest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.judged = append(g.judged, d)
	return g.deny[d]
}

// quarantined is a gate error carrying a quarantine id.
type quarantined struct{ id string }

func (e quarantined) Error() string { return "quarantined " + e.id }
func (e quarantined) Unwrap() error {
	return oci.ErrDenied.WithMessage("blocked; quarantine id " + e.id)
}
func (e quarantined) QuarantineID() string { return e.id }

func TestGate(t *testing.T) {
	b := newFakeBackend(t)
	amd64 := b.addManifest(nodeRepo, "", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"amd64"}}`))
	arm64 := b.addManifest(nodeRepo, "", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"arm64"}}`))
	entry := func(d digest.Digest, arch string) string {
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":10,"platform":{"architecture":%q,"os":"linux"}}`, oci.MediaTypeOCIManifest, d, arch)
	}
	index := b.addManifest(nodeRepo, "multi", oci.MediaTypeOCIIndex,
		[]byte(`{"schemaVersion":2,"manifests":[`+entry(arm64, "arm64")+`,`+entry(amd64, "amd64")+`]}`))
	b.addManifest(nodeRepo, "bad", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"bad"}}`))
	bad := digest.FromString(`{"schemaVersion":2,"config":{"digest":"bad"}}`)
	shown := b.addManifest(nodeRepo, "shown", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"digest":"shown"}}`))
	okBlob, badBlob := b.addBlob([]byte("fine")), b.addBlob([]byte("withheld"))

	gate := &denyGate{deny: map[digest.Digest]error{
		amd64:   oci.ErrManifestUnknown,
		bad:     oci.ErrManifestUnknown,
		shown:   quarantined{"abc123"},
		badBlob: oci.ErrBlobUnknown,
	}}
	h := New(b, testRouter(t), Options{Gate: gate})

	tests := []struct {
		name       string
		target     string
		accept     string
		wantStatus int
		wantCode   string
		wantID     string
		wantJudged digest.Digest
	}{
		{name: "index passes whole", target: "/v2/node/manifests/multi", wantStatus: 200, wantJudged: index},
		{name: "fallback gates the entry served", target: "/v2/node/manifests/multi", accept: oci.MediaTypeOCIManifest, wantStatus: 404, wantCode: "MANIFEST_UNKNOWN", wantJudged: amd64},
		{name: "withheld manifest", target: "/v2/node/manifests/bad", wantStatus: 404, wantCode: "MANIFEST_UNKNOWN", wantJudged: bad},
		{name: "quarantine id header", target: "/v2/node/manifests/shown", wantStatus: 403, wantCode: "DENIED", wantID: "abc123", wantJudged: shown},
		{name: "blob served", target: "/v2/node/blobs/" + okBlob.String(), wantStatus: 200, wantJudged: okBlob},
		{name: "blob withheld", target: "/v2/node/blobs/" + badBlob.String(), wantStatus: 404, wantCode: "BLOB_UNKNOWN", wantJudged: badBlob},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				var header []string
				if tt.accept != "" {
					header = []string{"Accept", tt.accept}
				}
				gate.mu.Lock()
				gate.judged = nil
				gate.mu.Unlock()

				resp := do(t, h, method, tt.target, header...)
				body := readBody(t, resp)
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
				}
				if tt.wantCode != "" && method == "GET" {
					if got := errorCode(t, body); got != tt.wantCode {
						t.Errorf("code = %s, want %s", got, tt.wantCode)
					}
				}
				if got := resp.Header.Get(QuarantineHeader); got != tt.wantID {
					t.Errorf("%s = %q, want %q", QuarantineHeader, got, tt.wantID)
				}
				gate.mu.Lock()
				defer gate.mu.Unlock()
				if len(gate.judged) != 1 || gate.judged[0] != tt.wantJudged {
					t.Errorf("gate asked about %v, want [%s]", gate.judged, tt.wantJudged)
				}
			})
		}
	}
}

func TestNoGateServesAll(t *testing.T) {
	b := newFakeBackend(t)
	b.addManifest(nodeRepo, "latest", oci.MediaTypeOCIManifest, []byte(`{"schemaVersion":2}`))
	resp := do(t, New(b, testRouter(t), Options{}), http.MethodGet, "/v2/node/manifests/latest")
	if resp.StatusCode != 200 || resp.Header.Get(QuarantineHeader) != "" {
		t.Errorf("status = %d, %s = %q; want 200 and none", resp.StatusCode, QuarantineHeader, resp.Header.Get(QuarantineHeader))
	}
}
