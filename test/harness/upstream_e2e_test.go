//go:build e2e

package harness

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestUpstreamAuthModes checks that each upstream mode accepts its
// credentials, refuses a caller without them, and keeps its content across
// a restart.
func TestUpstreamAuthModes(t *testing.T) {
	for _, mode := range []Auth{AuthNone, AuthBasic, AuthToken} {
		t.Run(string(mode), func(t *testing.T) {
			u := StartUpstream(t, UpstreamOptions{Auth: mode})
			img := NewImage(t, ImageSpec{Format: OCI, Layers: 2})
			want := u.Push(t, "library/app", "v1", img)

			got := Digest(t, remoteImage(t, u.Ref("library/app", "v1"), u.RemoteOptions()...))
			if got != want {
				t.Errorf("digest with credentials = %s, want %s", got, want)
			}

			r, _ := name.ParseReference(u.Ref("library/app", "v1"), name.Insecure)
			_, err := remote.Get(r, remote.WithAuth(authn.Anonymous))
			if anonymousOK := err == nil; anonymousOK != (mode == AuthNone) {
				t.Errorf("anonymous get: err = %v, want success only for %s", err, AuthNone)
			}

			u.Stop(t)
			if _, err := remote.Get(r, u.RemoteOptions()...); err == nil {
				t.Errorf("get from stopped upstream succeeded, want error")
			}
			u.Start(t)
			got = Digest(t, remoteImage(t, u.Ref("library/app", "v1"), u.RemoteOptions()...))
			if got != want {
				t.Errorf("digest after restart = %s, want %s", got, want)
			}
		})
	}
}

func TestTokenAnonymousPull(t *testing.T) {
	u := StartUpstream(t, UpstreamOptions{Auth: AuthToken, AnonymousPull: true})
	want := u.Push(t, "library/app", "v1", NewImage(t, ImageSpec{}))
	got := Digest(t, remoteImage(t, u.Ref("library/app", "v1"), remote.WithAuth(authn.Anonymous)))
	if got != want {
		t.Errorf("anonymous digest = %s, want %s", got, want)
	}
}
