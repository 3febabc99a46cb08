// Package bench holds Go benchmarks of breakwater wired in process, in front
// of an in-memory upstream. They complement scripts/bench, which compares the
// built binary with other servers: these show allocations per request, which
// must not grow with the size of the blob served. Nothing here asserts a
// timing.
package bench
