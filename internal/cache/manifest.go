package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/store"
	"breakwater/internal/telemetry"
)

// maxManifestSize bounds a manifest read back from the store, as
// distribution bounds the manifests it accepts.
const maxManifestSize = 4 << 20

// Manifest resolves ref in repo and returns the manifest. A digest that is
// cached is served without asking the upstream; a tag is served from the
// cache while younger than TagMaxAge, then revalidated with a HEAD; when
// revalidation fails for any reason but the upstream saying the tag is
// gone, the cached digest is served and marked Stale.
func (c *Cache) Manifest(ctx context.Context, repo Repo, ref oci.Reference) (*Manifest, error) {
	up, err := c.upstream(repo)
	if err != nil {
		return nil, err
	}
	if ref.IsDigest() {
		return c.manifestByDigest(ctx, up, repo, ref.Digest)
	}
	return c.manifestByTag(ctx, up, repo, ref.Tag)
}

func (c *Cache) manifestByDigest(
	ctx context.Context,
	up Upstream,
	repo Repo,
	d digest.Digest,
) (*Manifest, error) {
	m, err := c.cachedManifest(ctx, repo, d)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return m, err
	}
	if err := c.knownMissing(repo, d.String()); err != nil {
		return nil, err
	}
	key := "digest\x00" + repo.String() + "@" + d.String()
	return c.shared(ctx, key, func(ctx context.Context) (*Manifest, error) {
		// A flight that ended just before this one began may have stored it.
		if m, err := c.cachedManifest(ctx, repo, d); err == nil {
			return m, nil
		}
		return c.fetchManifest(ctx, up, repo, oci.Reference{Digest: d})
	})
}

func (c *Cache) manifestByTag(ctx context.Context, up Upstream, repo Repo, tag string) (*Manifest, error) {
	if m, err := c.freshTag(ctx, repo, tag); err == nil || !errors.Is(err, store.ErrNotFound) {
		return m, err
	}
	if err := c.knownMissing(repo, tag); err != nil {
		return nil, err
	}
	return c.shared(ctx, "tag\x00"+repo.String()+":"+tag, func(ctx context.Context) (*Manifest, error) {
		return c.resolveTag(ctx, up, repo, tag)
	})
}

// freshTag returns the tag's manifest if it was checked within TagMaxAge
// and its bytes are stored, or an error wrapping store.ErrNotFound.
func (c *Cache) freshTag(ctx context.Context, repo Repo, tag string) (*Manifest, error) {
	t, err := c.opts.Meta.Tag(ctx, repo.String(), tag)
	if err != nil {
		return nil, fmt.Errorf("look up tag %s:%s: %w", repo, tag, err)
	}
	if c.opts.Now().Sub(t.CheckedAt) >= c.opts.TagMaxAge {
		return nil, fmt.Errorf("tag %s:%s is stale: %w", repo, tag, store.ErrNotFound)
	}
	return c.cachedManifest(ctx, repo, t.Digest)
}

// resolveTag asks the upstream what tag points at: GET for a tag never
// seen, HEAD for a stale one, falling back to the cached digest when the
// upstream fails or failed a revalidation shortly before.
func (c *Cache) resolveTag(ctx context.Context, up Upstream, repo Repo, tag string) (*Manifest, error) {
	// A flight that ended just before this one began may have refreshed it.
	if m, err := c.freshTag(ctx, repo, tag); err == nil {
		return m, nil
	}
	t, err := c.opts.Meta.Tag(ctx, repo.String(), tag)
	if errors.Is(err, store.ErrNotFound) {
		return c.fetchTag(ctx, up, repo, tag)
	}
	if err != nil {
		return nil, fmt.Errorf("look up tag %s:%s: %w", repo, tag, err)
	}
	stale, err := c.cachedManifest(ctx, repo, t.Digest)
	if err != nil {
		// Nothing to fall back on: ask as for a tag never seen.
		return c.fetchTag(ctx, up, repo, tag)
	}
	stale.Hit, stale.Stale = false, true

	if c.health.down(repo.Upstream) {
		c.log.Debug("serving stale tag of unhealthy upstream",
			telemetry.KeyUpstream, repo.Upstream,
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyReference, tag)
		return stale, nil
	}
	m, err := c.revalidateTag(ctx, up, repo, t)
	if err == nil || isNotFound(err) {
		c.health.ok(repo.Upstream)
		return m, err
	}
	// Only the first failure is news; a cache closing under the flight is
	// no fault of the upstream.
	level := slog.LevelDebug
	if ctx.Err() == nil && c.health.fail(repo.Upstream) {
		level = slog.LevelWarn
	}
	c.log.Log(ctx, level, "upstream unhealthy, serving stale tags",
		telemetry.KeyUpstream, repo.Upstream,
		telemetry.KeyRepo, repo.String(),
		telemetry.KeyReference, tag,
		telemetry.KeyDigest, t.Digest.String(),
		telemetry.KeyWait, c.opts.UnhealthyFor,
		telemetry.KeyError, err)
	return stale, nil
}

// revalidateTag asks the upstream with a HEAD, bounded by
// RevalidateTimeout, whether t still points at the same digest, and
// fetches the manifest only when it moved: the upstream has answered by
// then, so the fetch gets the full timeout.
func (c *Cache) revalidateTag(ctx context.Context, up Upstream, repo Repo, t store.Tag) (*Manifest, error) {
	hctx, cancel := context.WithTimeout(ctx, c.opts.RevalidateTimeout)
	desc, err := up.HeadManifest(hctx, repo.Path, oci.Reference{Tag: t.Name})
	cancel()
	if err != nil {
		c.rememberNotFound(repo, t.Name, err)
		return nil, fmt.Errorf("revalidate tag %s:%s within %s: %w",
			repo, t.Name, c.opts.RevalidateTimeout, err)
	}
	if desc.Digest == "" {
		// Some registries send no Docker-Content-Digest on HEAD.
		return c.fetchTag(ctx, up, repo, t.Name)
	}
	m, err := c.cachedManifest(ctx, repo, desc.Digest)
	if errors.Is(err, store.ErrNotFound) {
		m, err = c.fetchManifest(ctx, up, repo, oci.Reference{Digest: desc.Digest})
	}
	if err != nil {
		return nil, err
	}
	c.putTag(ctx, repo, t.Name, m)
	m.Hit = false
	return m, nil
}

// fetchTag fetches a tag's manifest with a GET and records the tag.
func (c *Cache) fetchTag(ctx context.Context, up Upstream, repo Repo, tag string) (*Manifest, error) {
	m, err := c.fetchManifest(ctx, up, repo, oci.Reference{Tag: tag})
	if err != nil {
		return nil, err
	}
	c.putTag(ctx, repo, tag, m)
	return m, nil
}

// putTag records that tag points at m now. A failure is logged, not
// returned: the manifest is good, only the next request will ask again.
func (c *Cache) putTag(ctx context.Context, repo Repo, tag string, m *Manifest) {
	err := c.opts.Meta.PutTag(ctx, store.Tag{
		Repo:      repo.String(),
		Name:      tag,
		Digest:    m.Digest,
		MediaType: m.MediaType,
		Size:      m.Size,
		CheckedAt: c.opts.Now(),
	})
	if err != nil {
		c.log.Error("record tag failed",
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyReference, tag,
			telemetry.KeyError, err)
	}
}

// fetchManifest fetches ref from the upstream and stores it.
func (c *Cache) fetchManifest(
	ctx context.Context,
	up Upstream,
	repo Repo,
	ref oci.Reference,
) (*Manifest, error) {
	body, desc, err := up.Manifest(ctx, repo.Path, ref)
	if err != nil {
		c.rememberNotFound(repo, ref.String(), err)
		return nil, fmt.Errorf("fetch manifest %s:%s: %w", repo, ref, err)
	}
	c.health.ok(repo.Upstream)
	m, err := newManifest(body, desc, ref)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest %s:%s from %s: %w", repo, ref, up.Name(), err)
	}
	if err := c.storeManifest(ctx, repo, m); err != nil {
		c.log.Error("store manifest failed",
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyDigest, m.Digest.String(),
			telemetry.KeyError, err)
	}
	return m, nil
}

// newManifest checks body against what was asked for and what the upstream
// said, and fills in the descriptor. The digest is always computed here:
// the store is content-addressed and must never hold bytes under a name
// they do not hash to.
func newManifest(body []byte, desc oci.Descriptor, ref oci.Reference) (*Manifest, error) {
	d := digest.FromBytes(body)
	for _, want := range []digest.Digest{ref.Digest, desc.Digest} {
		if want != "" && want.Algorithm() == digest.SHA256 && want != d {
			return nil, fmt.Errorf("manifest hashes to %s, not %s: %w", d, want, oci.ErrDigestInvalid)
		}
	}
	mediaType := desc.MediaType
	if mediaType == "" {
		mediaType = parseManifest(body).mediaType()
	}
	return &Manifest{
		Descriptor: oci.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(body))},
		Body:       body,
	}, nil
}

// storeManifest puts m's bytes in the store and records it, with the blobs
// or child manifests it references, as part of repo.
func (c *Cache) storeManifest(ctx context.Context, repo Repo, m *Manifest) error {
	if err := c.writeBlob(ctx, m.Digest, m.Body); err != nil {
		return err
	}
	p := parseManifest(m.Body)
	rec := store.Manifest{
		Repo:         repo.String(),
		Digest:       m.Digest,
		MediaType:    m.MediaType,
		Size:         m.Size,
		ArtifactType: p.artifactType(),
		CachedAt:     c.opts.Now(),
	}
	if p.Subject != nil {
		rec.Subject = p.Subject.Digest
	}
	if err := c.opts.Meta.PutManifest(ctx, rec); err != nil {
		return fmt.Errorf("record manifest: %w", err)
	}
	for _, ref := range p.references() {
		if err := c.opts.Meta.PutBlob(ctx, repo.String(), ref.Digest, ref.Size); err != nil {
			return fmt.Errorf("record blob %s: %w", ref.Digest, err)
		}
	}
	return nil
}

// writeBlob stores small verified content such as a manifest.
func (c *Cache) writeBlob(ctx context.Context, d digest.Digest, body []byte) error {
	tmp, err := os.CreateTemp(c.opts.Blobs.TempDir(), "manifest-*")
	if err != nil {
		return fmt.Errorf("create manifest spool file: %w", err)
	}
	_, err = tmp.Write(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write manifest spool file: %w", err)
	}
	if err := c.opts.Blobs.Put(ctx, d, tmp.Name()); err != nil {
		return fmt.Errorf("store manifest %s: %w", d, err)
	}
	return nil
}

// cachedManifest returns manifest d of repo from the store, or an error
// wrapping store.ErrNotFound when repo or the store lacks it.
func (c *Cache) cachedManifest(ctx context.Context, repo Repo, d digest.Digest) (*Manifest, error) {
	rec, err := c.opts.Meta.Manifest(ctx, repo.String(), d)
	if err != nil {
		return nil, fmt.Errorf("look up manifest %s@%s: %w", repo, d, err)
	}
	f, _, err := c.opts.Blobs.Open(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("open manifest %s: %w", d, err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", d, err)
	}
	if len(body) > maxManifestSize {
		return nil, fmt.Errorf("read manifest %s: larger than %d bytes", d, maxManifestSize)
	}
	c.touched.touch(ctx, d)
	return &Manifest{
		Descriptor: oci.Descriptor{MediaType: rec.MediaType, Digest: d, Size: int64(len(body))},
		Body:       body,
		Hit:        true,
	}, nil
}

// shared runs fn once for all callers asking for key at the same time. fn
// runs detached from the first caller's cancellation, so one client going
// away does not fail the others; each caller stops waiting when its own
// ctx ends.
func (c *Cache) shared(
	ctx context.Context,
	key string,
	fn func(context.Context) (*Manifest, error),
) (*Manifest, error) {
	ch := c.flights.DoChan(key, func() (any, error) {
		fctx, cancel := c.detach(ctx)
		defer cancel()
		return fn(fctx)
	})
	if c.joinedFlight != nil {
		c.joinedFlight(key)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		m := *r.Val.(*Manifest) // each caller gets its own flags; Body is shared, read-only
		return &m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// manifestJSON is the part of a manifest or index the cache reads.
type manifestJSON struct {
	MediaType    string           `json:"mediaType"`
	ArtifactType string           `json:"artifactType"`
	Config       *oci.Descriptor  `json:"config"`
	Layers       []oci.Descriptor `json:"layers"`
	Manifests    []oci.Descriptor `json:"manifests"`
	Subject      *oci.Descriptor  `json:"subject"`
}

// parseManifest reads what it can. A body that is not JSON yields nothing:
// the bytes are still served verbatim, their blobs are merely not known to
// belong to the repository until requested.
func parseManifest(body []byte) manifestJSON {
	var m manifestJSON
	json.Unmarshal(body, &m)
	return m
}

// mediaType is the declared media type, or the one the structure implies;
// OCI manifests may omit the field.
func (m manifestJSON) mediaType() string {
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return oci.MediaTypeOCIIndex
	default:
		return oci.MediaTypeOCIManifest
	}
}

// artifactType is what the referrers API reports: the artifactType field,
// or for an image manifest without one, its config's media type.
func (m manifestJSON) artifactType() string {
	if m.ArtifactType == "" && m.Config != nil && m.Subject != nil {
		return m.Config.MediaType
	}
	return m.ArtifactType
}

// references lists the config and layers of a manifest, or the child
// manifests of an index.
func (m manifestJSON) references() []oci.Descriptor {
	refs := make([]oci.Descriptor, 0, 1+len(m.Layers)+len(m.Manifests))
	if m.Config != nil {
		refs = append(refs, *m.Config)
	}
	refs = append(refs, m.Layers...)
	return append(refs, m.Manifests...)
}
