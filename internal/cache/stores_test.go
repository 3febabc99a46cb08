package cache

// Temporary stand-in stores until the real backends land.

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
	"breakwater/internal/store/fs"
)

type tmpMeta struct {
	mu    sync.Mutex
	tags  map[string]store.Tag
	hist  map[string][]store.TagEvent
	mans  map[string]store.Manifest
	blobs map[string]bool
	repos map[string]bool
}

func key(a ...string) string { return strings.Join(a, "\x00") }

func (m *tmpMeta) PutTag(ctx context.Context, t store.Tag) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(t.Repo, t.Name)
	old, ok := m.tags[k]
	if !ok || old.Digest != t.Digest {
		m.hist[k] = append(m.hist[k], store.TagEvent{Digest: t.Digest, SeenAt: t.CheckedAt})
	}
	m.tags[k] = t
	m.repos[t.Repo] = true
	return nil
}
func (m *tmpMeta) Tag(ctx context.Context, repo, name string) (store.Tag, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tags[key(repo, name)]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}
func (m *tmpMeta) TagHistory(ctx context.Context, repo, name string) ([]store.TagEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.hist[key(repo, name)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(h), nil
}
func (m *tmpMeta) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.repos[repo] {
		return nil, store.ErrNotFound
	}
	var out []string
	for _, t := range m.tags {
		if t.Repo == repo && t.Name > last {
			out = append(out, t.Name)
		}
	}
	slices.Sort(out)
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}
func (m *tmpMeta) PutManifest(ctx context.Context, r store.Manifest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mans[key(r.Repo, r.Digest.String())] = r
	m.repos[r.Repo] = true
	return nil
}
func (m *tmpMeta) Manifest(ctx context.Context, repo string, d digest.Digest) (store.Manifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.mans[key(repo, d.String())]
	if !ok {
		return r, store.ErrNotFound
	}
	return r, nil
}
func (m *tmpMeta) Referrers(ctx context.Context, repo string, d digest.Digest) ([]store.Manifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []store.Manifest{}
	for _, r := range m.mans {
		if r.Repo == repo && r.Subject == d {
			out = append(out, r)
		}
	}
	return out, nil
}
func (m *tmpMeta) PutBlob(ctx context.Context, repo string, d digest.Digest, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[key(repo, d.String())] = true
	m.repos[repo] = true
	return nil
}
func (m *tmpMeta) HasBlob(ctx context.Context, repo string, d digest.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.blobs[key(repo, d.String())] {
		return store.ErrNotFound
	}
	return nil
}
func (m *tmpMeta) Touch(ctx context.Context, d digest.Digest, t time.Time) error { return nil }
func (m *tmpMeta) LastAccess(ctx context.Context, d digest.Digest) (time.Time, error) {
	return time.Time{}, store.ErrNotFound
}
func (m *tmpMeta) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for r := range m.repos {
		if r > last {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}
func (m *tmpMeta) Close() error { return nil }

// newStores returns empty stores under t.TempDir().
func newStores(t *testing.T) (store.Blobs, store.Meta) {
	t.Helper()
	blobs, err := fs.New(filepath.Join(t.TempDir(), "blobs"), fs.Options{})
	if err != nil {
		t.Fatalf("fs.New: %v", err)
	}
	return blobs, &tmpMeta{
		tags: map[string]store.Tag{}, hist: map[string][]store.TagEvent{},
		mans: map[string]store.Manifest{}, blobs: map[string]bool{}, repos: map[string]bool{},
	}
}
