//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"breakwater/test/harness"
)

// engines are the four real clients, each with private state, configured
// to use the stack's breakwater both by name and as a Docker Hub mirror.
type engines struct {
	docker   *harness.Dockerd
	ctrd     *harness.Containerd
	podman   *harness.Podman
	skopeo   *harness.Skopeo
	hostsDir string
}

func startEngines(t *testing.T, s *stack) *engines {
	t.Helper()
	return &engines{
		docker:   harness.StartDockerd(t, harness.DockerdOptions{Mirrors: []string{"http://" + s.host}}),
		ctrd:     harness.StartContainerd(t),
		podman:   harness.NewPodman(t, harness.PodmanOptions{DockerHubMirror: s.host}),
		skopeo:   harness.NewSkopeo(t),
		hostsDir: harness.MirrorHostsDir(t, "docker.io", "http://"+s.host),
	}
}

// removeAll empties every client's local image store, so the next pull
// must fetch everything again.
func (e *engines) removeAll(t *testing.T) {
	t.Helper()
	e.docker.RemoveAll(t)
	e.podman.RemoveAll(t)
	e.ctrd.RemoveAll(t)
}

// client is one way of pulling an image; pull returns the manifest digest
// the client recorded for it.
type client struct {
	name string
	pull func(t *testing.T) string
}

// clients lists every client pulling repo:tag from breakwater. Docker Hub
// names (single component, mirror entries) are included when repo is an
// official image ("library/x") of the default upstream.
func (e *engines) clients(s *stack, repo, tag string) []client {
	ref := s.ref(repo, tag)
	cs := []client{
		{"docker", func(t *testing.T) string {
			e.docker.Pull(t, ref, "")
			return repoDigest(t, e.docker.RepoDigests(t, ref), s.host+"/"+repo)
		}},
		{"podman", func(t *testing.T) string {
			e.podman.Pull(t, ref, "")
			return e.podman.Digest(t, ref)
		}},
		{"skopeo-inspect", func(t *testing.T) string {
			return e.skopeo.InspectDigest(t, ref)
		}},
		{"skopeo-copy", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "oci")
			e.skopeo.Copy(t, ref, "oci:"+dir+":"+tag)
			return harness.OCILayoutDigest(t, dir)
		}},
		{"containerd", func(t *testing.T) string {
			e.ctrd.Pull(t, ref, "")
			return e.ctrd.ImageDigest(t, ref)
		}},
	}
	short, ok := strings.CutPrefix(repo, "library/")
	if !ok || direct() {
		return cs
	}
	hub := "docker.io/" + repo + ":" + tag
	return append(cs,
		client{"docker-short-name", func(t *testing.T) string {
			r := s.host + "/" + short + ":" + tag
			e.docker.Pull(t, r, "")
			return repoDigest(t, e.docker.RepoDigests(t, r), s.host+"/"+short)
		}},
		client{"skopeo-short-name", func(t *testing.T) string {
			return e.skopeo.InspectDigest(t, s.host+"/"+short+":"+tag)
		}},
		client{"docker-registry-mirror", func(t *testing.T) string {
			e.docker.Pull(t, short+":"+tag, "")
			return repoDigest(t, e.docker.RepoDigests(t, short+":"+tag), short)
		}},
		client{"podman-registry-mirror", func(t *testing.T) string {
			e.podman.Pull(t, hub, "")
			return e.podman.Digest(t, hub)
		}},
		client{"containerd-mirror", func(t *testing.T) string {
			e.ctrd.Pull(t, hub, "", "--hosts-dir", e.hostsDir)
			return e.ctrd.ImageDigest(t, hub)
		}},
	)
}

// repoDigest picks the digest of name from "name@sha256:..." entries.
func repoDigest(t *testing.T, repoDigests []string, name string) string {
	t.Helper()
	for _, rd := range repoDigests {
		if n, d, ok := strings.Cut(rd, "@"); ok && n == name {
			return d
		}
	}
	t.Fatalf("RepoDigests %q have no entry for %s", repoDigests, name)
	return ""
}
