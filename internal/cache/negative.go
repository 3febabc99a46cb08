package cache

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"breakwater/internal/oci"
)

// ErrNegativeHit is wrapped, beside the upstream's remembered answer, by an
// error the negative cache answered with, so that a log can tell it from
// an answer the upstream just gave.
var ErrNegativeHit = errors.New("remembered from the negative cache")

// negative remembers, for a short time, that the upstream has no such name
// or reference, so a client retrying a typo does not cost an upstream
// request each time. It is safe for concurrent use and holds at most size
// entries; when full it drops expired entries first, then arbitrary ones,
// since losing an entry only costs one more upstream request.
type negative struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	// mu guards entries.
	mu      sync.Mutex
	entries map[string]negativeEntry
}

type negativeEntry struct {
	err     error
	expires time.Time
}

func newNegative(ttl time.Duration, size int, now func() time.Time) *negative {
	return &negative{ttl: ttl, size: size, now: now, entries: make(map[string]negativeEntry)}
}

// get returns the remembered error for key, or nil.
func (n *negative) get(key string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.entries[key]
	if !ok {
		return nil
	}
	if !n.now().Before(e.expires) {
		delete(n.entries, key)
		return nil
	}
	return e.err
}

// put remembers err for key until the TTL passes.
func (n *negative) put(key string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if len(n.entries) >= n.size {
		n.evict(now)
	}
	n.entries[key] = negativeEntry{err: err, expires: now.Add(n.ttl)}
}

// evict makes room for one entry. Called with mu held.
func (n *negative) evict(now time.Time) {
	for k, e := range n.entries {
		if !now.Before(e.expires) {
			delete(n.entries, k)
		}
	}
	for k := range n.entries {
		if len(n.entries) < n.size {
			return
		}
		delete(n.entries, k)
	}
}

// forget drops key, for when the upstream turned out to have it after all.
func (n *negative) forget(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.entries, key)
}

// rememberNotFound records err if it is the upstream's answer that repo,
// or ref in repo, does not exist. ref may be empty.
func (c *Cache) rememberNotFound(repo Repo, ref string, err error) {
	switch {
	case errors.Is(err, oci.ErrNameUnknown):
		c.neg.put(repo.String(), err)
	case errors.Is(err, oci.ErrManifestUnknown) && ref != "":
		c.neg.put(repo.String()+"\x00"+ref, err)
	}
}

// knownMissing returns the remembered not-found error for repo, or ref in
// repo, wrapped with ErrNegativeHit, or nil. ref may be empty.
func (c *Cache) knownMissing(repo Repo, ref string) error {
	err := c.neg.get(repo.String())
	if err == nil && ref != "" {
		err = c.neg.get(repo.String() + "\x00" + ref)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNegativeHit, err)
	}
	return nil
}
