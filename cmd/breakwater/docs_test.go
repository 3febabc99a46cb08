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
	b, err := os.ReadFile("../../docs/firewall.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	root := newRootCmd(io.Discard, io.Discard, nil)
	for _, top := range []string{"scan", "quarantine", "audit", "vulndb"} {
		cmd, _, err := root.Find([]string{top})
		if err != nil {
			t.Fatalf("find %s: %v", top, err)
		}
		walkCommands(cmd, func(c *cobra.Command) {
			if c.HasSubCommands() {
				return
			}
			if path := c.CommandPath(); !strings.Contains(doc, path) {
				t.Errorf("docs/firewall.md does not mention %q", path)
			}
			c.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" && !strings.Contains(doc, "--"+f.Name) {
					t.Errorf("docs/firewall.md does not mention --%s of %s", f.Name, c.CommandPath())
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
