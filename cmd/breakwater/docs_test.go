package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFirewallDoc keeps docs/firewall.md whole: it names every firewall
// command and each of their flags.
func TestFirewallDoc(t *testing.T) {
	checkCommandDoc(t, "docs/firewall.md", "scan", "quarantine", "audit", "vulndb")
}

// TestAccessDoc does the same for docs/access.md and the user and token
// commands.
func TestAccessDoc(t *testing.T) {
	checkCommandDoc(t, "docs/access.md", "user", "token")
}

// checkCommandDoc fails unless the doc names every leaf command under tops
// and each of their flags.
func checkCommandDoc(t *testing.T, name string, tops ...string) {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	root := newRootCmd(io.Discard, io.Discard, nil)
	for _, top := range tops {
		cmd, _, err := root.Find([]string{top})
		if err != nil {
			t.Fatalf("find %s: %v", top, err)
		}
		walkCommands(cmd, func(c *cobra.Command) {
			if c.HasSubCommands() {
				return
			}
			if path := c.CommandPath(); !strings.Contains(doc, path) {
				t.Errorf("%s does not mention %q", name, path)
			}
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" && !strings.Contains(doc, "--"+f.Name) {
					t.Errorf("%s does not mention --%s of %s", name, f.Name, c.CommandPath())
				}
			})
		})
	}
}

func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}
