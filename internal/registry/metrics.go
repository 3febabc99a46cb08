package registry

import (
	"net/http"
	"strings"

	"breakwater/internal/telemetry"
)

// countRequest tells m how the cache answered a manifest or blob request,
// what it served and whether it was a pull: the request log's facts, under
// the upstream's name only, never the repository's.
func countRequest(m *telemetry.Metrics, r *http.Request, req *request, w *responseWriter) {
	if m == nil || req.repo.Upstream == "" {
		return
	}
	var kind string
	switch {
	case req.kind == endpointBlob:
		kind = telemetry.KindBlob
	case req.kind != endpointManifest:
		return
	case strings.Contains(req.ref, ":"):
		// A tag has no colon; a digest is algorithm:hex.
		kind = telemetry.KindManifest
	default:
		kind = telemetry.KindTag
	}
	up := req.repo.Upstream
	if req.cache != "" {
		m.CacheRequest(up, kind, req.cache)
	}
	if w.status == http.StatusOK || w.status == http.StatusPartialContent {
		source := telemetry.SourceCache
		if req.cache == cacheMiss {
			source = telemetry.SourceUpstream
		}
		m.ServedBytes(up, source, w.bytes)
	}
	if req.kind == endpointManifest && r.Method == http.MethodGet && w.status == http.StatusOK {
		m.Pull(up)
	}
}

// Route names for metrics, one per endpoint.
var endpointNames = map[endpoint]string{
	endpointBase:      "base",
	endpointCatalog:   "catalog",
	endpointManifest:  "manifest",
	endpointBlob:      "blob",
	endpointTags:      "tags",
	endpointReferrers: "referrers",
	endpointSearch:    "search",
}

// EndpointName names the endpoint an escaped request path addresses, for a
// metric's route label: base, catalog, manifest, blob, tags, referrers,
// search, or other for anything else. It never returns a name or digest
// from the path.
func EndpointName(escapedPath string) string {
	if name, ok := endpointNames[parsePath(escapedPath).kind]; ok {
		return name
	}
	return "other"
}
