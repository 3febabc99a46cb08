package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"breakwater/internal/config"
	"breakwater/internal/policy"
)

// newRootCmd builds the command tree writing to stdout and stderr, reading
// BREAKWATER_* variables from environ; tests call it with buffers.
func newRootCmd(stdout, stderr io.Writer, environ []string) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "breakwater",
		Short: "A pull-through registry in front of Docker Hub and other upstreams",
		// main prints the error once; usage after a bad config value would
		// bury the line that names the key.
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionString(),
		// An empty flag cannot be told from an unset one once parsed, and
		// unset means the default (./data, 127.0.0.1:5000, Docker Hub):
		// refuse --data "" and the like before they fall back there.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range []string{"data", "listen", "upstream", "firewall"} {
				if f := cmd.Flags().Lookup(name); f != nil && f.Changed && strings.TrimSpace(f.Value.String()) == "" {
					return fmt.Errorf("--%s must not be empty", name)
				}
			}
			// A negative --limit would read as "all".
			if f := cmd.Flags().Lookup("limit"); f != nil && strings.HasPrefix(f.Value.String(), "-") {
				return errors.New("--limit must not be negative; 0 means all")
			}
			return nil
		},
	}
	// --version prints what the version command prints.
	root.SetVersionTemplate("breakwater {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&configFile, "config", "", "YAML configuration `file` (see docs/configuration.md)")

	// load reads --config when a command runs, after flags are parsed. It
	// checks --firewall first, so every command that takes it refuses a
	// bad mode the same way.
	load := func(f config.Flags) (config.Config, error) {
		if err := checkMode(f.Firewall); err != nil {
			return config.Config{}, err
		}
		return config.Load(configFile, environ, f)
	}
	root.AddCommand(
		newServeCmd(stderr, load),
		newConfigCmd(stdout, load),
		newVulnDBCmd(stdout, load),
		newQuarantineCmd(stdout, load),
		newScanCmd(stdout, load),
		newAuditCmd(stdout, load),
		newUserCmd(stdout, stderr, load),
		newTokenCmd(stdout, stderr, load),
		newVersionCmd(stdout),
	)
	return root
}

// addConfigFlags adds the flags that override the configuration, shared by
// every command that reads it.
func addConfigFlags(cmd *cobra.Command, f *config.Flags) {
	cmd.Flags().StringVar(&f.Listen, "listen", "", "`address` to listen on (default 127.0.0.1:5000)")
	cmd.Flags().StringVar(&f.Data, "data", "", "data `directory` (default ./data or $BREAKWATER_DATA)")
	cmd.Flags().StringVar(&f.Upstream, "upstream", "", "`URL` of the default upstream, which keeps its name docker.io and Docker Hub's library/ prefix (default https://registry-1.docker.io)")
	cmd.Flags().StringVar((*string)(&f.Firewall), "firewall", "", "firewall `mode` of every repository, overriding the configuration: off, audit or quarantine")
}

// checkMode refuses a --firewall value that is not a mode, naming the flag
// rather than the configuration key it overrides.
func checkMode(m policy.Mode) error {
	switch m {
	case "", policy.ModeOff, policy.ModeAudit, policy.ModeQuarantine:
		return nil
	}
	return fmt.Errorf("--firewall: must be off, audit or quarantine, not %q", m)
}

// loader builds the configuration from the file, the environment and the
// flags of the command being run.
type loader func(config.Flags) (config.Config, error)
