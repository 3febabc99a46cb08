// Package conformance runs the OCI distribution-spec conformance suite's
// read-only pull checks against breakwater, with a CNCF distribution
// registry seeded with OCI content as the upstream.
//
// The end-to-end test is behind the e2e build tag:
//
//	test/conformance/install.sh
//	go test -tags e2e -v ./test/conformance
//
// The suite runs three times against one breakwater: on a cold cache, on a
// warm cache and with the upstream stopped. A run passes only when the
// suite's results.yaml and junit.xml say that every read-only input was
// checked and passed; the suite's exit code alone is not trusted, because
// several configuration mistakes make it exit 0 having tested nothing.
//
// In read-only mode the suite checks little more than status codes, so
// each run also checks the manifest headers (Docker-Content-Digest,
// Content-Type, Content-Length) and the referrers list against what was
// seeded, and the warm run fails if any request by digest reached the
// upstream.
//
// install.sh puts the pinned suite in the Go bin directory as
// `conformance`; BREAKWATER_CONFORMANCE_BIN names another binary.
//
// This file and results.go build without the tag so that the parser of the
// suite's result files is covered by the hermetic tests.
package conformance
