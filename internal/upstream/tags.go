package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"breakwater/internal/oci"
)

const (
	// maxTagPages bounds how many pages of a tag list are followed, so a
	// remote with a Link loop or millions of tags cannot keep us forever.
	maxTagPages = 100
	// maxTagPage bounds one page of a tag list.
	maxTagPage = 4 << 20
)

// Tags lists every tag of repo, following the remote's pagination (Link
// rel="next") for at most maxTagPages pages.
//
// TODO: a repository with more tags than maxTagPages pages hold is listed
// incompletely and without an error, so a client paging past the end
// misses the rest.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	ctx = withScope(ctx, pullScope(repo))
	next := c.endpoint("/v2/" + repo + "/tags/list")
	seen := map[string]bool{}
	var tags []string
	for page := 0; page < maxTagPages && next != "" && !seen[next]; page++ {
		seen[next] = true
		ans, err := c.fetch(ctx, request{
			method:   http.MethodGet,
			url:      next,
			notFound: oci.ErrNameUnknown,
			limit:    maxTagPage,
		})
		if err != nil {
			return nil, fmt.Errorf("list tags of %s on %s: %w", repo, c.name, err)
		}
		var list struct {
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(ans.body, &list); err != nil {
			return nil, fmt.Errorf("decode tags of %s from %s: %w", repo, c.name, unavailable(err))
		}
		tags = append(tags, list.Tags...)
		next = nextLink(ans.url, ans.header.Values("Link"))
	}
	return tags, nil
}

// nextLink returns the absolute URL of the Link header's rel="next"
// target, or "" (RFC 8288; the distribution spec uses it for pagination).
func nextLink(base *url.URL, values []string) string {
	for _, v := range values {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(link, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			if !isNextRel(params) {
				continue
			}
			u, err := base.Parse(strings.Trim(target, "<>"))
			if err != nil {
				return ""
			}
			return u.String()
		}
	}
	return ""
}

func isNextRel(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
			return true
		}
	}
	return false
}
