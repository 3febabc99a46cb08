package harness

import (
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func remoteImage(t *testing.T, ref string, opts ...remote.Option) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("parse %q: %v", ref, err)
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	return img
}

func copyAll(w io.Writer, r io.Reader) (int64, error) { return io.Copy(w, r) }
