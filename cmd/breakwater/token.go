package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/auth"
	"breakwater/internal/store"
)

func newTokenCmd(stdout, stderr io.Writer, load loader) *cobra.Command {
	c := &accountsCmd{stdout: stdout, stderr: stderr, load: load, now: time.Now}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `An API token stands in for a user's password: for docker login, basic auth on
registry requests and the API. create prints its secret once, as the last
line of the output (alone on standard output); only a hash of it is kept.
A revoked token is refused at once, also by a running server.

The token commands work on the stores of a data directory (--data, or data
in --config), the same ones serve uses, and every change is recorded in the
audit log under cli:<local user>.`,
	}
	cmd.AddCommand(c.tokenCreate(), c.tokenList(), c.tokenRevoke())
	return cmd
}

func (c *accountsCmd) tokenCreate() *cobra.Command {
	var user, name, expires string
	cmd := &cobra.Command{
		Use:   "create --user NAME --name TOKEN [--expires 720h|30d|2027-01-31]",
		Short: "Create an API token for a user and print its secret once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := auth.CheckName("token name", name); err != nil {
				return fmt.Errorf("--name: %s", reason(err))
			}
			ttl, until, err := parseExpiry(expires, c.now())
			if err != nil {
				return err
			}
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			if _, err := a.user(ctx, user); err != nil {
				return err
			}
			var secret string
			var info auth.TokenInfo
			if until.IsZero() {
				secret, info, err = a.admin.CreateToken(ctx, a.p, user, name, ttl)
			} else {
				secret, info, err = a.admin.CreateTokenUntil(ctx, a.p, user, name, until)
			}
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("user %s already has a token named %q (revoke it first, or choose another name)", user, name)
			}
			if err != nil {
				return err
			}
			exp := "does not expire"
			if !info.ExpiresAt.IsZero() {
				exp = "expires " + info.ExpiresAt.UTC().Format(time.RFC3339)
			}
			return c.printSecret(fmt.Sprintf("created token %s of %s (id %s, %s); its secret, shown only this once:", name, user, info.ID, exp), secret)
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().StringVar(&user, "user", "", "`user` the token acts as (required)")
	cmd.Flags().StringVar(&name, "name", "", "`name` of the token, unique per user, such as ci (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "when the token ends: a `duration` from now (720h, 30d), a date (2027-01-31, at 00:00 UTC) or an RFC 3339 time; default never")
	cmd.MarkFlagRequired("user")
	cmd.MarkFlagRequired("name")
	return cmd
}

// tokenJSON is a token as token list --format json writes it, the shape
// the API uses, with whether it has expired.
type tokenJSON struct {
	ID         string    `json:"id"`
	User       string    `json:"user"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Expired    bool      `json:"expired"`
}

func (c *accountsCmd) tokenList() *cobra.Command {
	var user, format string
	cmd := &cobra.Command{
		Use:   "list [--user NAME]",
		Short: "List API tokens, never their secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			ts, err := listTokens(cmd.Context(), a, user)
			if err != nil {
				return err
			}
			now := c.now()
			expired := func(t auth.TokenInfo) bool { return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) }
			if format == "json" {
				out := make([]tokenJSON, len(ts))
				for i, t := range ts {
					out[i] = tokenJSON{ID: t.ID, User: t.User, Name: t.Name, CreatedAt: t.CreatedAt,
						ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, Expired: expired(t)}
				}
				return writeJSON(c.stdout, out)
			}
			if len(ts) == 0 {
				_, err := fmt.Fprintln(c.stdout, "no API tokens")
				return err
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tNAME\tID\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range ts {
				exp := "never"
				if !t.ExpiresAt.IsZero() {
					exp = t.ExpiresAt.UTC().Format(time.RFC3339)
					if expired(t) {
						exp += " (expired)"
					}
				}
				used := "-"
				if !t.LastUsedAt.IsZero() {
					used = t.LastUsedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.User, t.Name, t.ID, t.CreatedAt.UTC().Format(time.RFC3339), exp, used)
			}
			return tw.Flush()
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().StringVar(&user, "user", "", "only the tokens of this `user`")
	addFormatFlag(cmd, &format)
	return cmd
}

// listTokens returns the tokens of user, or everyone's for "". The
// facade lists one user's; every user's is a read of the access control.
func listTokens(ctx context.Context, a *accounts, user string) ([]auth.TokenInfo, error) {
	if user == "" {
		return a.auth.Tokens(ctx, "")
	}
	if _, err := a.user(ctx, user); err != nil {
		return nil, err
	}
	return a.admin.Tokens(ctx, a.p, user)
}

func (c *accountsCmd) tokenRevoke() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "revoke --user NAME TOKEN",
		Short: "Revoke an API token; it is refused at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			if _, err := a.user(ctx, user); err != nil {
				return err
			}
			err = a.admin.RevokeToken(ctx, a.p, user, name)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user %s has no token named %q (breakwater token list --user %s shows its tokens)", user, name, user)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "revoked token %s of %s\n", name, user)
			return err
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().StringVar(&user, "user", "", "`user` the token belongs to (required)")
	cmd.MarkFlagRequired("user")
	return cmd
}
