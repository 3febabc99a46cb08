package registry

import (
	"errors"

	"breakwater/internal/cache"
)

// cacheNegative is the request log's cache outcome for a not-found the
// cache remembered from an earlier upstream answer, so that it does not
// pass for the upstream answering now.
const cacheNegative = "negative"

// noteError records what an error from the backend says about the cache.
func (req *request) noteError(err error) {
	if errors.Is(err, cache.ErrNegativeHit) {
		req.cache = cacheNegative
	}
}
