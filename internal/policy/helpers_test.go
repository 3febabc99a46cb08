package policy

import (
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"breakwater/internal/inventory"
)

// Evidence shared by the tests: a clock, an image digest, and findings of
// the kinds feeds produce.
var (
	now     = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	imageID = digest.FromString("image")

	errFailed = errors.New("read layer: truncated tar header")

	malware = inventory.Finding{
		ID: "MAL-2025-42", Malware: true,
		Component: inventory.Component{Ecosystem: inventory.NPM, Name: "evil", Version: "1.0.0"},
	}
	criticalOpen = inventory.Finding{
		ID: "CVE-2024-0001", Score: 9.8, Scored: true, Severity: "critical",
		Status:    inventory.StatusOpen,
		Component: inventory.Component{Ecosystem: "Debian:12", Name: "libssl3", SourceName: "openssl"},
	}
	highFixable = inventory.Finding{
		ID: "GHSA-aaaa-bbbb-cccc", Aliases: []string{"CVE-2024-0002"}, Score: 7.5, Scored: true, Severity: "high",
		FixedVersion: "1.2.4",
		Component:    inventory.Component{Ecosystem: inventory.Go, Name: "golang.org/x/net", Version: "1.2.3"},
	}
	criticalWontFix = inventory.Finding{
		ID: "CVE-2023-45853", Score: 9.8, Scored: true, Severity: "critical",
		Status:    inventory.StatusWillNotFix,
		Component: inventory.Component{Ecosystem: "Debian:12", Name: "zlib1g", SourceName: "zlib"},
	}
	unscoredHigh = inventory.Finding{
		ID: "CVE-2024-0003", Severity: "high", Status: inventory.StatusOpen,
		Component: inventory.Component{Ecosystem: "Debian:12", Name: "bash"},
	}
	lowOpen = inventory.Finding{
		ID: "CVE-2024-0004", Score: 3.1, Scored: true, Severity: "low", Status: inventory.StatusNoDSA,
		Component: inventory.Component{Ecosystem: "Debian:12", Name: "tar"},
	}
)
