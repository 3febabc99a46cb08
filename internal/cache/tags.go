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
// fails for any reason but saying the repository does not exist.
func (c *Cache) Tags(ctx context.Context, repo Repo, last string, n int) ([]string, error) {
	up, err := c.upstream(repo)
	if err != nil {
		return nil, err
	}
	if err := c.knownMissing(repo, ""); err != nil {
		return nil, err
	}
	tags, err := up.Tags(ctx, repo.Path)
	if err == nil {
		return page(tags, last, n), nil
	}
	if isNotFound(err) {
		c.rememberNotFound(repo, "", err)
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}

	cached, cerr := c.opts.Meta.Tags(ctx, repo.String(), last, n)
	if cerr != nil || len(cached) == 0 && last == "" {
		return nil, fmt.Errorf("list tags of %s: %w", repo, err)
	}
	c.log.Warn("serving cached tag list",
		telemetry.KeyUpstream, repo.Upstream,
		telemetry.KeyRepo, repo.String(),
		telemetry.KeyError, err)
	return cached, nil
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
// verbatim, or, when the upstream has no referrers API or fails, an index
// built from the manifests with a subject the cache holds.
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
	return c.cachedReferrers(ctx, repo, d, artifactType)
}

// referrersIndex is the OCI image index the referrers API answers with.
type referrersIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []referrerEntry `json:"manifests"`
}

type referrerEntry struct {
	MediaType    string        `json:"mediaType"`
	Digest       digest.Digest `json:"digest"`
	Size         int64         `json:"size"`
	ArtifactType string        `json:"artifactType,omitempty"`
}

func (c *Cache) cachedReferrers(
	ctx context.Context,
	repo Repo,
	d digest.Digest,
	artifactType string,
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
	for _, r := range recs {
		if artifactType != "" && r.ArtifactType != artifactType {
			continue
		}
		idx.Manifests = append(idx.Manifests, referrerEntry{
			MediaType:    r.MediaType,
			Digest:       r.Digest,
			Size:         r.Size,
			ArtifactType: r.ArtifactType,
		})
	}
	return json.Marshal(idx)
}
