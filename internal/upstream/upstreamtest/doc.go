// Package upstreamtest is a conformance suite for clients of a remote
// registry, and the remote it runs against: ggcr's in-memory registry on
// httptest, wrapped by small middlewares for the ways real remotes behave
// (basic auth, a bearer token realm, blobs redirected to a CDN, 429s, 5xx,
// truncated and lying answers).
//
// Run checks a client only through its methods and the oci error
// sentinels, so any implementation of breakwater's upstream contract can
// pass it. Tests that need a client's internals (its clock, its retry
// waits) use the remote helpers directly. Nothing here is for production
// code.
package upstreamtest
