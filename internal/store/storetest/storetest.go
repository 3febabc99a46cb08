// Package storetest is the conformance suite every store backend passes, so
// the cache can rely on the behaviour store documents whichever backend runs.
// A backend's test calls TestBlobs or TestMeta with a function that creates
// empty storage; the suite never looks at how that storage is kept, so the
// same tests serve the filesystem, SQLite, S3 and PostgreSQL backends.
//
// Times used by the suite carry microseconds but not nanoseconds, which is
// the precision store promises.
package storetest

import (
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/store"
)

// BlobsBackend creates empty blob storage for one test and returns a function
// that opens it. Every call of open returns a new instance over the same
// storage, which is how the suite checks that blobs survive a restart.
// Failures inside either function should end the test with t.Fatal.
type BlobsBackend func(t *testing.T) (open func() store.Blobs)

// MetaBackend is BlobsBackend for metadata. The suite closes every Meta it
// opens, and closes one before opening the next over the same storage.
type MetaBackend func(t *testing.T) (open func() store.Meta)

// Bounds of the concurrency tests: enough goroutines to overlap writers on
// two cores under the race detector, few enough to stay quick.
const (
	workers    = 8
	iterations = 20
)

// t0 is the suite's epoch. It has microseconds but no nanoseconds, and is
// not in UTC, so a backend that drops the zone's offset or truncates to
// seconds fails.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.FixedZone("east", 2*60*60))

// at returns t0 plus i seconds.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

// dg returns a digest named by s, for metadata tests that need no bytes.
func dg(s string) digest.Digest { return digest.FromString(s) }

// must ends the test when a setup step fails.
func must(t *testing.T, err error, step string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}
