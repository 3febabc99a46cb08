package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/oci"
	"breakwater/internal/telemetry"
)

// Tags lists repo's tags after last, at most n (n <= 0: all), in lexical
// order: the upstream's list when it answers, the cached tags when it
// fails for any reason but saying the repository does not exist, or at
// once while the upstream counts as down after a failed revalidation.
//
// TODO: a failing tag list does not itself mark the upstream down and is
// not bounded like a revalidation, so a hanging upstream nobody pulled a
// tag from lately holds a listing for the client's full timeout and
// retries; the same goes for Referrers.
func (c *Cache) Tags(ctx context.Context, repo Repo, last string, n int) ([]string, error) {
	up, err := c.upstream(repo)
	if err != nil {
		return nil, err
	}
	if err := c.knownMissing(repo, ""); err != nil {
		return nil, err
	}
	if c.health.down(repo.Upstream) {
		if cached, ok := c.cachedTags(ctx, repo, last, n); ok {
			return cached, nil
		}
	}
	tags, err := up.Tags(ctx, repo.Path)
	if err == nil {
		c.health.ok(repo.Upstream)
		return page(tags, last, n), nil
	}
	if isNotFound(err) {
		c.rememberNotFound(repo, "", err)
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}

	cached, ok := c.cachedTags(ctx, repo, last, n)
	if !ok {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	c.log.Warn("serving cached tag list",
		telemetry.KeyUpstream, repo.Upstream,
		telemetry.KeyRepo, repo.String(),
		telemetry.KeyError, err)
	return cached, nil
}

// cachedTags returns a page of the tags the cache holds for repo, and
// false when it has none to offer in place of the upstream's list.
func (c *Cache) cachedTags(ctx context.Context, repo Repo, last string, n int) ([]string, bool) {
	cached, err := c.opts.Meta.Tags(ctx, repo.String(), last, n)
	if err != nil || len(cached) == 0 && last == "" {
		return nil, false
	}
	return cached, true
}

// page sorts tags and returns those after last, at most n (n <= 0: all).
func page(tags []string, last string, n int) []string {
	tags = slices.Clone(tags)
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if last != "" {
		i, found := slices.BinarySearch(tags, last)
		if found {
			i++
		}
		tags = tags[i:]
	}
	if n > 0 && len(tags) > n {
		tags = tags[:n]
	}
	return tags
}

// Referrers returns an OCI image index of the manifests referring to d,
// filtered by artifactType when it is not empty: the upstream's answer
// verbatim, or, when the upstream has no referrers API, fails or counts
// as down after a failed revalidation, an index built from the manifests
// with a subject the cache holds.
//
// TODO: an index built from the cache lacks the referrers' annotations,
// which are not recorded; signature tools that select by annotation will
// not find theirs while the upstream is unreachable.
func (c *Cache) Referrers(
	ctx context.Context,
	repo Repo,
	d digest.Digest,
	artifactType string,
) ([]byte, error) {
	up, err := c.upstream(repo)
	if err != nil {
		return nil, err
	}
	if c.health.down(repo.Upstream) {
		// Ask nothing of an upstream that just failed, not even for the
		// referrers tag: that is read as cached, whatever its age.
		tagged := c.storedReferrersTag(ctx, repo, d)
		return c.cachedReferrers(ctx, repo, d, artifactType, tagged)
	}
	// TODO: the upstream's index is passed on verbatim even if the upstream
	// ignored the artifactType filter; the HTTP layer cannot tell whether
	// to send OCI-Filters-Applied.
	body, err := up.Referrers(ctx, repo.Path, d, artifactType)
	if err == nil {
		return body, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("list referrers of %s@%s: %w", repo, d, err)
	}
	if !errors.Is(err, oci.ErrManifestUnknown) {
		c.log.Warn("serving cached referrers",
			telemetry.KeyUpstream, repo.Upstream,
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyDigest, d.String(),
			telemetry.KeyError, err)
	}
	tagged := c.fallbackReferrers(ctx, repo, d)
	return c.cachedReferrers(ctx, repo, d, artifactType, tagged)
}

// fallbackReferrers reads the referrers tag schema's index (tag
// sha256-<hex>), which registries without the referrers API, such as
// distribution, use to list a subject's artifacts. It goes through Manifest,
// so the index is cached and served stale when the upstream is down. A
// missing, unreachable or malformed tag means no entries.
func (c *Cache) fallbackReferrers(ctx context.Context, repo Repo, d digest.Digest) []referrerEntry {
	m, err := c.Manifest(ctx, repo, referrersTag(d))
	if errors.Is(err, oci.ErrManifestUnknown) || errors.Is(err, oci.ErrNameUnknown) {
		return nil
	}
	if err != nil {
		// The upstream is down and the tag was never cached: answer with
		// what the cache knows rather than fail the whole listing.
		c.log.Warn("referrers tag unavailable",
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyDigest, d.String(),
			telemetry.KeyError, err)
		return nil
	}
	return c.referrersEntries(repo, d, m)
}

// storedReferrersTag reads the referrers tag's index from the cache alone.
func (c *Cache) storedReferrersTag(
	ctx context.Context,
	repo Repo,
	d digest.Digest,
) []referrerEntry {
	t, err := c.opts.Meta.Tag(ctx, repo.String(), referrersTag(d).Tag)
	if err != nil {
		return nil
	}
	m, err := c.cachedManifest(ctx, repo, t.Digest)
	if err != nil {
		return nil
	}
	return c.referrersEntries(repo, d, m)
}

// referrersTag is the tag the referrers tag schema lists d's referrers under.
func referrersTag(d digest.Digest) oci.Reference {
	return oci.Reference{Tag: d.Algorithm().String() + "-" + d.Encoded()}
}

// referrersEntries reads the entries of m, the referrers tag's index of d.
func (c *Cache) referrersEntries(repo Repo, d digest.Digest, m *Manifest) []referrerEntry {
	if m.MediaType != oci.MediaTypeOCIIndex {
		return nil
	}
	var idx referrersIndex
	if err := json.Unmarshal(m.Body, &idx); err != nil {
		c.log.Warn("ignoring malformed referrers tag",
			telemetry.KeyRepo, repo.String(),
			telemetry.KeyDigest, d.String(),
			telemetry.KeyError, err)
		return nil
	}
	return idx.Manifests
}

// referrersIndex is the OCI image index the referrers API answers with.
type referrersIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []referrerEntry `json:"manifests"`
}

type referrerEntry struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// cachedReferrers builds the index from the entries of the referrers tag
// and the manifests the cache holds whose subject is d, each digest once.
func (c *Cache) cachedReferrers(
	ctx context.Context,
	repo Repo,
	d digest.Digest,
	artifactType string,
	tagged []referrerEntry,
) ([]byte, error) {
	recs, err := c.opts.Meta.Referrers(ctx, repo.String(), d)
	if err != nil {
		return nil, fmt.Errorf("list cached referrers of %s@%s: %w", repo, d, err)
	}
	idx := referrersIndex{
		SchemaVersion: 2,
		MediaType:     oci.MediaTypeOCIIndex,
		Manifests:     []referrerEntry{}, // the spec wants [], not null
	}
	entries := tagged
	for _, r := range recs {
		entries = append(entries, referrerEntry{
			MediaType:    r.MediaType,
			Digest:       r.Digest,
			Size:         r.Size,
			ArtifactType: r.ArtifactType,
		})
	}
	seen := make(map[digest.Digest]bool, len(entries))
	for _, e := range entries {
		if seen[e.Digest] || (artifactType != "" && e.ArtifactType != artifactType) {
			continue
		}
		seen[e.Digest] = true
		idx.Manifests = append(idx.Manifests, e)
	}
	return json.Marshal(idx)
}
