package main

import (
	"io"

	"github.com/spf13/cobra"

	"breakwater/internal/config"
)

func newConfigCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration as YAML, secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := load(f)
			if err != nil {
				return err
			}
			// serve reads password files at start; say now if it could not.
			for _, u := range c.Upstreams {
				if _, _, err := u.Credentials(); err != nil {
					return err
				}
			}
			b, err := c.YAML()
			if err != nil {
				return err
			}
			_, err = stdout.Write(b)
			return err
		},
	}
	addConfigFlags(cmd, &f)
	return cmd
}
