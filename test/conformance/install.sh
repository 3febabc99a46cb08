#!/bin/sh
# Installs the OCI distribution-spec conformance suite, pinned, as the
# binary `conformance` in the Go bin directory ($GOBIN, else $GOPATH/bin),
# where test/conformance looks for it. The module is a main package, so
# go install builds it outside breakwater's go.mod; nothing is added there.
set -eu

version=v0.0.0-20260831232431-97274622c111
go install "github.com/opencontainers/distribution-spec/conformance@${version}"
