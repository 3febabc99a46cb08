package firewall

import "github.com/opencontainers/go-digest"

// OnInspect makes f call fn before each inspection, so tests can count
// them.
func OnInspect(f *Firewall, fn func(digest.Digest)) { f.inspected = fn }
