package firewall_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"breakwater/internal/firewall"
	"breakwater/internal/policy"
	"breakwater/internal/registry"
	"breakwater/internal/store"
)

// TestVerdicts pulls images of each kind through repositories in each mode
// and checks what the client sees of the manifest (GET and HEAD) and of
// each blob, asked for by digest.
func TestVerdicts(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())

	tests := []struct {
		name      string
		repo      string
		files     []file
		status    int
		code      string
		showsID   bool
		blobs     int // status of blob requests
		audit     string
		result    string
		messageIn string
	}{
		{
			name:   "clean image allowed",
			repo:   "quar/clean",
			files:  cleanFiles,
			status: 200,
			blobs:  200,
			result: "allow",
		},
		{
			name:   "malware quarantined",
			repo:   "quar/mal",
			files:  malwareFiles,
			status: 404,
			code:   "MANIFEST_UNKNOWN",
			blobs:  404,
			audit:  firewall.ActionQuarantined,
			result: "quarantine",
		},
		{
			name:   "critical cve quarantined",
			repo:   "quar/deb",
			files:  debianFiles,
			status: 404,
			code:   "MANIFEST_UNKNOWN",
			blobs:  404,
			audit:  firewall.ActionQuarantined,
			result: "quarantine",
		},
		{
			name:      "message mode",
			repo:      "shown/mal",
			files:     malwareFiles,
			status:    403,
			code:      "DENIED",
			showsID:   true,
			blobs:     404,
			audit:     firewall.ActionQuarantined,
			result:    "quarantine",
			messageIn: "blocked by breakwater policy malware; quarantine id ",
		},
		{
			name:   "audit mode serves",
			repo:   "audit/mal",
			files:  malwareFiles,
			status: 200,
			blobs:  200,
			audit:  firewall.ActionViolation,
			result: "audit",
		},
		{
			name:   "hostile layer fails closed",
			repo:   "quar/hostile",
			files:  hostileFiles,
			status: 404,
			code:   "MANIFEST_UNKNOWN",
			blobs:  404,
			audit:  firewall.ActionQuarantined,
			result: "inspection-failed",
		},
		{
			name:   "hostile layer served fail open",
			repo:   "open/hostile",
			files:  hostileFiles,
			status: 200,
			blobs:  200,
			audit:  firewall.ActionViolation,
			result: "audit",
		},
		{
			name:   "mode off",
			repo:   "off/mal",
			files:  malwareFiles,
			status: 200,
			blobs:  200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := e.push(tt.repo+":1", image(t, tt.files, "amd64", tt.name))
			for _, method := range []string{"GET", "HEAD"} {
				for _, ref := range []string{"1", img.manifest.String()} {
					r := e.manifest(method, tt.repo, ref)
					wantStatus(t, method+" manifest "+ref, r, tt.status, tt.code)
					if method == "GET" && !strings.Contains(r.msg, tt.messageIn) {
						t.Errorf("message = %q, want it to contain %q", r.msg, tt.messageIn)
					}
					id := r.header.Get(registry.QuarantineHeader)
					if tt.showsID && (id == "" || !strings.HasSuffix(r.msg, id) && method == "GET") {
						t.Errorf("%s: header %s = %q, message %q; want the id in both", method, registry.QuarantineHeader, id, r.msg)
					}
					if !tt.showsID && id != "" {
						t.Errorf("%s: header %s = %q, want none", method, registry.QuarantineHeader, id)
					}
				}
				for _, d := range append([]digest.Digest{img.config}, img.layers...) {
					code := ""
					if tt.blobs == 404 {
						code = "BLOB_UNKNOWN"
					}
					wantStatus(t, method+" blob "+d.String(), e.blob(method, tt.repo, d), tt.blobs, code)
				}
			}

			judged := e.audit(img.manifest, firewall.ActionJudged)
			if tt.result == "" {
				if len(judged) != 0 {
					t.Errorf("judged entries = %d, want none in mode off", len(judged))
				}
				return
			}
			if len(judged) != 1 || !strings.Contains(judged[0].Details, "result="+tt.result+" ") {
				t.Errorf("judged entries = %+v, want one with result=%s", judged, tt.result)
			}
			if tt.audit != "" && len(e.audit(img.manifest, tt.audit)) != 1 {
				t.Errorf("audit entries %s = %d, want 1", tt.audit, len(e.audit(img.manifest, tt.audit)))
			}
		})
	}
}

// TestQuarantineRecord checks what a record holds.
func TestQuarantineRecord(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	img := e.push("shown/deb:12", image(t, debianFiles, "arm64", "record"))

	r := e.manifest("GET", "shown/deb", "12")
	wantStatus(t, "manifest", r, 403, "DENIED")
	recs, err := e.fw.Show(t.Context(), r.header.Get(registry.QuarantineHeader))
	if err != nil || len(recs) != 1 {
		t.Fatalf("Show(id) = %d records, %v; want 1", len(recs), err)
	}
	rec := recs[0]
	if rec.Repo != "docker.io/shown/deb" || rec.Upstream != "docker.io" || rec.Tag != "12" || rec.Digest != img.manifest || rec.Platform != "linux/arm64" {
		t.Errorf("record image = %s %s %s:%s@%s, want docker.io docker.io/shown/deb:12@%s linux/arm64", rec.Platform, rec.Upstream, rec.Repo, rec.Tag, rec.Digest, img.manifest)
	}
	if rec.RequestedBy != "127.0.0.1" || rec.RequestedAt.IsZero() {
		t.Errorf("requested by %q at %v, want 127.0.0.1 at a time", rec.RequestedBy, rec.RequestedAt)
	}
	if len(rec.Policies) != 1 || rec.Policies[0] != "cvss-8" {
		t.Errorf("policies = %v, want [cvss-8]", rec.Policies)
	}
	ev := rec.Evidence
	if ev.Components != 2 || len(ev.Findings) != 1 {
		t.Fatalf("evidence has %d components, %d findings; want 2, 1", ev.Components, len(ev.Findings))
	}
	f := ev.Findings[0]
	if f.ID != "CVE-2099-1234" || f.FixedVersion != "3.0.16-1~deb12u1" || f.Score != 9.8 || f.Severity != "critical" || f.Component.Name != "libssl3" {
		t.Errorf("finding = %+v, want CVE-2099-1234 in libssl3 fixed in 3.0.16-1~deb12u1 scored 9.8 critical", f)
	}

	byDigest, err := e.fw.Show(t.Context(), img.manifest.String())
	if err != nil || len(byDigest) != 1 || byDigest[0].ID != rec.ID {
		t.Errorf("Show(digest) = %v, %v; want the same record", byDigest, err)
	}
	list, err := e.fw.List(t.Context(), firewall.Filter{}, 0, 0)
	if err != nil || len(list) != 1 {
		t.Errorf("List = %d records, %v; want 1", len(list), err)
	}
	if err := e.fw.AddNote(t.Context(), rec.ID, "admin", "looking into it"); err != nil {
		t.Fatalf("AddNote: %v", err)
	}
	recs, _ = e.fw.Show(t.Context(), rec.ID)
	if len(recs[0].Notes) != 1 || recs[0].Notes[0].Text != "looking into it" || recs[0].Notes[0].By != "admin" {
		t.Errorf("notes = %+v, want the one added", recs[0].Notes)
	}
	if _, err := e.fw.Show(t.Context(), "000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Show(unknown id) = %v, want ErrNotFound", err)
	}
}

// TestMultiPlatform checks that each platform of an index is judged by
// itself: the platform with malware is withheld, the other served.
func TestMultiPlatform(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	amd64 := image(t, cleanFiles, "amd64", "multi")
	arm64 := image(t, malwareFiles, "arm64", "multi")
	idx := e.pushIndex("quar/multi:1", map[string]v1.Image{"amd64": amd64, "arm64": arm64})
	good, bad := describe(t, amd64), describe(t, arm64)

	wantStatus(t, "index", e.manifest("GET", "quar/multi", "1"), 200, "")
	wantStatus(t, "index by digest", e.manifest("HEAD", "quar/multi", idx.String()), 200, "")
	wantStatus(t, "amd64", e.manifest("GET", "quar/multi", good.manifest.String()), 200, "")
	wantStatus(t, "amd64 layer", e.blob("GET", "quar/multi", good.layers[0]), 200, "")
	wantStatus(t, "arm64", e.manifest("GET", "quar/multi", bad.manifest.String()), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "arm64 layer", e.blob("GET", "quar/multi", bad.layers[0]), 404, "BLOB_UNKNOWN")
	recs, err := e.fw.Show(t.Context(), bad.manifest.String())
	if err != nil || len(recs) != 1 || recs[0].Tag != "1" || recs[0].Platform != "linux/arm64" {
		t.Errorf("record = %+v, %v; want one for linux/arm64 with the index's tag", recs, err)
	}

	// A client choosing its platform, as docker does.
	ref, err := name.ParseReference(strings.TrimPrefix(e.srv.URL, "http://")+"/quar/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		arch string
		ok   bool
	}{{"amd64", true}, {"arm64", false}} {
		img, err := remote.Image(ref, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: tt.arch}), remote.WithContext(t.Context()))
		if err == nil {
			_, err = img.RawConfigFile()
		}
		if (err == nil) != tt.ok {
			t.Errorf("pull linux/%s: err = %v, want success %v", tt.arch, err, tt.ok)
		}
	}
}

// TestArtifacts checks that a manifest that is no image (a signature) is
// served without inspection, while one with a tar layer is inspected
// whatever its config says.
func TestArtifacts(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())

	sig := artifact(t, static.NewLayer([]byte(`{"critical":{}}`), "application/vnd.dev.cosign.simplesigning.v1+json"))
	signed := e.push("quar/signed:sig", sig)
	wantStatus(t, "signature", e.manifest("GET", "quar/signed", "sig"), 200, "")
	wantStatus(t, "signature layer", e.blob("GET", "quar/signed", signed.layers[0]), 200, "")

	// An attestation: an image config with an in-toto layer.
	att, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer([]byte(`{"_type":"https://in-toto.io/Statement/v0.1"}`), "application/vnd.in-toto+json")})
	if err != nil {
		t.Fatal(err)
	}
	attested := e.push("quar/signed:att", mutate.MediaType(att, types.OCIManifestSchema1))
	wantStatus(t, "attestation", e.manifest("GET", "quar/signed", "att"), 200, "")
	wantStatus(t, "attestation layer", e.blob("GET", "quar/signed", attested.layers[0]), 200, "")

	// A Helm chart: its tar is no container layer.
	chart, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(tarBytes(t, []*tar.Header{{Name: "chart/Chart.yaml", Typeflag: tar.TypeReg, Mode: 0o644}}), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")})
	if err != nil {
		t.Fatal(err)
	}
	chart = mutate.ConfigMediaType(mutate.MediaType(chart, types.OCIManifestSchema1), "application/vnd.cncf.helm.config.v1+json")
	e.push("quar/chart:1", chart)
	wantStatus(t, "helm chart", e.manifest("GET", "quar/chart", "1"), 200, "")

	mal, err := image(t, malwareFiles, "amd64", "disguised").Layers()
	if err != nil {
		t.Fatal(err)
	}
	disguised := e.push("quar/disguised:1", artifact(t, mal[0]))
	wantStatus(t, "tar layer behind an artifact config", e.manifest("GET", "quar/disguised", "1"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "its layer", e.blob("GET", "quar/disguised", disguised.layers[0]), 404, "BLOB_UNKNOWN")
}

// artifact builds a manifest with a non-image config around layer.
func artifact(t *testing.T, layer v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), "application/vnd.dev.cosign.artifact.sig.v1+json")
}

// labelled is a manifest pushed under a media type of the test's choice.
type labelled struct {
	body []byte
	mt   types.MediaType
}

func (l labelled) RawManifest() ([]byte, error)        { return l.body, nil }
func (l labelled) MediaType() (types.MediaType, error) { return l.mt, nil }

// TestImageLabelledIndex checks that an upstream cannot pass an image off
// as an index, which is not judged itself.
func TestImageLabelledIndex(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "labelled")
	p := e.push("quar/labelled:real", img)
	body, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(e.ref("quar/labelled:fake"), labelled{body, types.OCIImageIndex}, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("push labelled manifest: %v", err)
	}
	wantStatus(t, "image labelled an index", e.manifest("GET", "quar/labelled", "fake"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "its layer", e.blob("GET", "quar/labelled", p.layers[0]), 404, "BLOB_UNKNOWN")
}

// TestHostileLayers checks that hostile or broken layers end in the
// verdict inspection-failed with their reason, on the whole pull path.
func TestHostileLayers(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())

	plain := tarBytes(t, []*tar.Header{{Name: "etc/hostname", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()

	tests := []struct {
		name   string
		layer  v1.Layer
		reason string
	}{
		{"dot-dot path", rawLayer(tarBytes(t, []*tar.Header{{Name: "../../etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}}), types.OCIUncompressedLayer), "path contains .."},
		{"hard link out of the root", rawLayer(tarBytes(t, []*tar.Header{{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}}), types.OCIUncompressedLayer), "hard link target leaves the image root"},
		{"tar called gzip", rawLayer(plain, types.DockerLayer), "layer is uncompressed but its media type says gzip"},
		{"truncated gzip", rawLayer(gz.Bytes()[:gz.Len()/2], types.OCILayer), "layer is truncated"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, tt.layer)
			if err != nil {
				t.Fatal(err)
			}
			repo := fmt.Sprintf("quar/hostile%d", i)
			p := e.push(repo+":1", img)
			wantStatus(t, "manifest", e.manifest("GET", repo, "1"), 404, "MANIFEST_UNKNOWN")
			wantStatus(t, "layer", e.blob("GET", repo, p.layers[0]), 404, "BLOB_UNKNOWN")
			j, err := e.fw.Verdict(t.Context(), "docker.io/"+repo, p.manifest)
			if err != nil {
				t.Fatalf("Verdict: %v", err)
			}
			if j.Result != policy.ResultInspectionFailed || !strings.Contains(j.Evidence.InspectionError, tt.reason) {
				t.Errorf("verdict %s, inspection error %q; want inspection-failed with %q", j.Result, j.Evidence.InspectionError, tt.reason)
			}
		})
	}
}

// tarBytes writes headers (with bodies of zeros of their size) as a tar.
func tarBytes(t *testing.T, hdrs []*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, h.Size))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawLayer is a layer of exactly these bytes under media type mt.
func rawLayer(b []byte, mt types.MediaType) v1.Layer { return static.NewLayer(b, mt) }

// TestSameImageTwoRepositories checks that an image held by two
// repositories is inspected once and judged in each by its settings.
func TestSameImageTwoRepositories(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord)
	e.start(testSettings())
	img := image(t, malwareFiles, "amd64", "twice")
	p := e.push("quar/twice:1", img)
	e.push("audit/twice:1", img)

	wantStatus(t, "quarantine repo", e.manifest("GET", "quar/twice", "1"), 404, "MANIFEST_UNKNOWN")
	wantStatus(t, "audit repo", e.manifest("GET", "audit/twice", "1"), 200, "")
	wantStatus(t, "audit repo layer", e.blob("GET", "audit/twice", p.layers[0]), 200, "")
	wantStatus(t, "quarantine repo layer", e.blob("GET", "quar/twice", p.layers[0]), 404, "BLOB_UNKNOWN")
	gets := e.up.count("GET /v2/quar/twice/blobs/"+p.layers[0].String()) + e.up.count("GET /v2/audit/twice/blobs/"+p.layers[0].String())
	if gets != 1 {
		t.Errorf("upstream layer GETs = %d, want 1", gets)
	}
	if n := e.inspections.Load(); n != 1 {
		t.Errorf("inspections = %d, want 1", n)
	}
}
