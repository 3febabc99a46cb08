// Package e2e pulls real images with real clients (docker, podman, skopeo,
// containerd) through a breakwater built from this checkout, in front of a
// CNCF distribution registry that requires credentials only breakwater
// holds. Run as root with the clients installed (scripts/test does both):
//
//	go test -tags e2e -v -timeout 60m ./test/e2e
//
// A missing client fails the tests; nothing is skipped.
package e2e
