// Command breakwater is a pull-through registry: it serves the pull side of
// the OCI Distribution API in front of Docker Hub and other upstream
// registries, keeping every manifest and blob it fetches, and its firewall
// withholds images that break the configured policies.
//
// Usage:
//
//	breakwater serve [--config FILE] [--listen ADDR] [--data DIR] [--upstream URL] [--firewall MODE]
//	breakwater config [same flags]   print the effective configuration, secrets masked
//	breakwater scan IMAGE [--data DIR] [--format table|json]
//	breakwater quarantine list|show|release|delete|note [--data DIR] ...
//	breakwater audit [--data DIR] [--repo R] [--digest D] [--action A]
//	breakwater vulndb import|status [--data DIR] ...
//	breakwater user add|list|passwd|delete [--data DIR] ...
//	breakwater token create|list|revoke [--data DIR] ...
//	breakwater version (or breakwater --version)
//
// Every command takes --config FILE. Commands that work on local state
// (scan, quarantine, audit, vulndb, user, token) open the stores under
// --data, the same ones serve uses, so a release or an import is in force
// on a running server at once. docs/firewall.md describes the firewall and
// these commands, docs/access.md users and tokens.
//
// With no flags and no file, serve listens on 127.0.0.1:5000, keeps its
// data in ./data and proxies Docker Hub. docs/configuration.md lists every
// setting and its BREAKWATER_* environment variable.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// without it the module's build information is used.
var version string

func main() {
	// The first SIGINT or SIGTERM starts a graceful shutdown; stop then
	// restores the default handling, so a second one ends the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := newRootCmd(os.Stdout, os.Stderr, os.Environ()).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "breakwater:", err)
		os.Exit(1)
	}
}
