package cache

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
)

func TestNegativeCache(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	e.push("v1", randomImage(t, 256, 1))
	gone := Repo{Upstream: "up", Path: "library/gone"}

	steps := []struct {
		name    string
		advance time.Duration
		call    func() error
		wantErr error
		// wantRequests is how many upstream requests the step costs.
		wantRequests int
	}{
		{"unknown tag asks", 0, e.manifestErr(e.repo, "nope"), oci.ErrManifestUnknown, 1},
		{"unknown tag remembered", testNegativeTTL / 2, e.manifestErr(e.repo, "nope"), oci.ErrManifestUnknown, 0},
		{"other tags still asked", 0, e.manifestErr(e.repo, "v1"), nil, 1},
		{"unknown tag forgotten", testNegativeTTL, e.manifestErr(e.repo, "nope"), oci.ErrManifestUnknown, 1},
		{"unknown name asks", 0, e.manifestErr(gone, "v1"), oci.ErrNameUnknown, 1},
		{"unknown name remembered for tags", 0, e.manifestErr(gone, "v2"), oci.ErrNameUnknown, 0},
		{"unknown name remembered for blobs", 0, func() error {
			_, err := e.cache.Blob(ctx, gone, digest.FromString("x"))
			return err
		}, oci.ErrNameUnknown, 0},
		{"unknown name remembered for tag lists", 0, func() error {
			_, err := e.cache.Tags(ctx, gone, "", 0)
			return err
		}, oci.ErrNameUnknown, 0},
	}
	for _, s := range steps {
		e.resetCounts()
		e.clock.Advance(s.advance)
		err := s.call()
		if s.wantErr == nil && err != nil || !errors.Is(err, s.wantErr) {
			t.Errorf("%s: got %v, want %v", s.name, err, s.wantErr)
		}
		if got := e.total(); got != s.wantRequests {
			t.Errorf("%s: upstream requests: got %d, want %d", s.name, got, s.wantRequests)
		}
		// An error that cost no request came from the negative cache.
		wantHit := s.wantErr != nil && s.wantRequests == 0
		if got := errors.Is(err, ErrNegativeHit); got != wantHit {
			t.Errorf("%s: error %v from the negative cache: got %v, want %v", s.name, err, got, wantHit)
		}
	}
}

func (e *env) manifestErr(repo Repo, tag string) func() error {
	return func() error {
		_, err := e.cache.Manifest(testContext(e.t), repo, tagRef(tag))
		return err
	}
}

func TestNegativeBounded(t *testing.T) {
	now := time.Unix(0, 0)
	n := newNegative(time.Minute, 3, func() time.Time { return now })
	for i := range 10 {
		n.put(fmt.Sprint(i), oci.ErrManifestUnknown)
		if got := len(n.entries); got > 3 {
			t.Fatalf("after %d puts: %d entries, want at most 3", i+1, got)
		}
	}
	if err := n.get("9"); !errors.Is(err, oci.ErrManifestUnknown) {
		t.Errorf("latest entry: got %v, want %v", err, oci.ErrManifestUnknown)
	}
}
