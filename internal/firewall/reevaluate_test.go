package firewall_test

import (
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"breakwater/internal/cache"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/policy"
)

// TestReevaluate checks that new vulnerability data records new violations
// of served images and blocks them only with BlockServed.
func TestReevaluate(t *testing.T) {
	for _, blockServed := range []bool{false, true} {
		name := map[bool]string{false: "served stay served", true: "block served"}[blockServed]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.load("malware", malRecord)
			settings := testSettings()
			settings.BlockServed = blockServed
			e.start(settings)
			img := e.push("quar/deb:12", image(t, debianFiles, "amd64", name))
			wantStatus(t, "before new data", e.manifest("GET", "quar/deb", "12"), 200, "")

			e.load("debian", debianRecord)
			n, err := e.fw.Reevaluate(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("Reevaluate = %d, %v; want 1 image with new violations", n, err)
			}
			violations := e.audit(img.manifest, firewall.ActionViolation)
			if len(violations) == 0 || violations[0].Actor != "reevaluation" {
				t.Errorf("violations = %+v, want entries by reevaluation", violations)
			}
			want, code := 200, ""
			if blockServed {
				want, code = 404, "MANIFEST_UNKNOWN"
			}
			wantStatus(t, "after re-evaluation", e.manifest("GET", "quar/deb", "12"), want, code)
			recs, err := e.fw.List(t.Context(), firewall.Filter{Repo: "docker.io/quar/deb"}, 0, 0)
			if err != nil || len(recs) != map[bool]int{false: 0, true: 1}[blockServed] {
				t.Errorf("records = %+v, %v; want one only when served images are blocked", recs, err)
			}

			if n, err := e.fw.Reevaluate(t.Context()); err != nil || n != 0 {
				t.Errorf("second Reevaluate = %d, %v; want nothing new", n, err)
			}
		})
	}
}

// TestJudge checks the verdict API a scan command uses.
func TestJudge(t *testing.T) {
	e := newEnv(t)
	e.load("feeds", malRecord, debianRecord)
	e.start(testSettings())
	img := e.push("audit/deb:12", image(t, debianFiles, "amd64", "judge"))
	idx := e.pushIndex("audit/multi:1", map[string]v1.Image{"amd64": image(t, cleanFiles, "amd64", "judge")})
	repo := cache.Repo{Upstream: "docker.io", Path: "audit/deb"}

	m, err := e.cache.Manifest(t.Context(), repo, oci.Reference{Tag: "12"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.fw.Judge(t.Context(), repo, oci.Reference{Tag: "12"}, m)
	if err != nil {
		t.Fatalf("Judge: %v", err)
	}
	if j.Result != policy.ResultAudit || !j.Served || j.Digest != img.manifest || len(j.Evidence.Findings) != 1 || j.Evidence.Platform != "linux/amd64" {
		t.Errorf("Judge = %+v, want an audited, served image with one finding", j)
	}
	again, err := e.fw.Verdict(t.Context(), repo.String(), img.manifest)
	if err != nil || !again.JudgedAt.Equal(j.JudgedAt) {
		t.Errorf("Verdict = %+v, %v; want the stored judgement", again, err)
	}

	multi := cache.Repo{Upstream: "docker.io", Path: "audit/multi"}
	im, err := e.cache.Manifest(t.Context(), multi, oci.Reference{Digest: idx})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fw.Judge(t.Context(), multi, oci.Reference{Digest: idx}, im); !errors.Is(err, oci.ErrUnsupported) {
		t.Errorf("Judge(index) = %v, want ErrUnsupported", err)
	}
}
