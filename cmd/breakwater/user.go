package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/admin"
	"breakwater/internal/auth"
	"breakwater/internal/config"
	"breakwater/internal/server"
	"breakwater/internal/store"
)

// accountsCmd holds what the user and token commands share: where they
// write, the data directory's flags and the clock.
type accountsCmd struct {
	stdout, stderr io.Writer
	load           loader
	flags          config.Flags
	now            func() time.Time
}

// accounts is an open data directory with its access control and facade.
type accounts struct {
	*server.Admin
	auth  *auth.Service
	admin *admin.Service
	// p is who acts, as the audit log names it: an admin, since whoever
	// can open the data directory may change anything in it anyway.
	p auth.Principal
}

// open opens the stores of the data directory, the ones serve uses, so a
// change is in force on a running server at once. Only create (user add)
// may make a data directory that is not there yet.
func (c *accountsCmd) open(create bool) (*accounts, error) {
	cfg, err := c.load(c.flags)
	if err != nil {
		return nil, err
	}
	if !create {
		if err := existingData(cfg.Data); err != nil {
			return nil, err
		}
	}
	a, err := server.OpenAdmin(cfg, nil)
	if err != nil {
		return nil, err
	}
	as, ad, err := a.Accounts()
	if err != nil {
		a.Close()
		return nil, err
	}
	return &accounts{Admin: a, auth: as, admin: ad, p: auth.Principal{User: actor(), Role: auth.RoleAdmin, Via: auth.ViaCLI}}, nil
}

// user returns user name, or an error that says there is no such user.
func (a *accounts) user(ctx context.Context, name string) (auth.User, error) {
	u, err := a.auth.GetUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return auth.User{}, fmt.Errorf("no user %q (breakwater user list shows who there is)", name)
	}
	return u, err
}

func newUserCmd(stdout, stderr io.Writer, load loader) *cobra.Command {
	c := &accountsCmd{stdout: stdout, stderr: stderr, load: load, now: time.Now}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list and delete users and set their roles and passwords",
		Long: `The user commands work on the stores of a data directory (--data, or data in
--config), the same ones serve uses, so a change is in force on a running
server at once and is recorded in the audit log under cli:<local user>.

A reader pulls and reads the API and the dashboard; an admin may also change
things. Passwords are 12 to 72 bytes on one line, not only spaces. With
--password-stdin the password is read from standard input (one line);
without it a random one is made and printed once, as the last line of the
output.`,
	}
	cmd.AddCommand(c.userAdd(), c.userList(), c.userRole(), c.userPasswd(), c.userDelete())
	return cmd
}

// passwordLen is the length of a generated password: rand.Text's 26
// base32 characters, 130 bits.
const passwordLen = 26

// readPassword returns the password of a command: the one line on stdin
// with --password-stdin, else a new random one (generated true).
// A generated password must be changed at the first dashboard login, as
// the first admin's is: it was shown on a terminal.
func readPassword(cmd *cobra.Command, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return rand.Text(), true, nil
	}
	// More than bcrypt takes is an error anyway; the bound keeps a wrong
	// pipe from being read to its end.
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
	if err != nil {
		return "", false, fmt.Errorf("--password-stdin: %w", err)
	}
	pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	switch {
	case pw == "":
		return "", false, errors.New("--password-stdin: standard input holds no password")
	case strings.ContainsAny(pw, "\r\n"):
		return "", false, errors.New("--password-stdin: standard input must hold the password on one line")
	}
	if err := auth.CheckPassword(pw); err != nil {
		return "", false, fmt.Errorf("--password-stdin: %s", reason(err))
	}
	return pw, false, nil
}

// reason is the text of an auth.ErrInvalid without its "invalid: "
// prefix, for an error message that already says what is wrong.
func reason(err error) string {
	return err.Error()
}

// printSecret writes note to stderr and secret alone to stdout, so the
// secret is the last line a person sees and all a script captures.
func (c *accountsCmd) printSecret(note, secret string) error {
	fmt.Fprintln(c.stderr, note)
	_, err := fmt.Fprintln(c.stdout, secret)
	return err
}

func (c *accountsCmd) userAdd() *cobra.Command {
	var role string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "add NAME --role reader|admin [--password-stdin]",
		Short: "Add a user; without --password-stdin print a new random password once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := auth.CheckName("user name", name); err != nil {
				return errors.New(reason(err))
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %s", reason(err))
			}
			pw, generated, err := readPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			a, err := c.open(true)
			if err != nil {
				return err
			}
			defer a.Close()
			err = a.admin.AddUser(cmd.Context(), a.p, name, r, pw)
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("user %q already exists (breakwater user passwd %s sets a new password)", name, name)
			}
			if err != nil {
				return err
			}
			msg := fmt.Sprintf("added user %s (%s)", name, r)
			if generated {
				if err := a.auth.ExpirePassword(cmd.Context(), name); err != nil {
					return err
				}
				return c.printSecret(msg+"; its password, shown only this once (to be changed at the first dashboard login):", pw)
			}
			_, err = fmt.Fprintln(c.stdout, msg)
			return err
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().StringVar(&role, "role", "", "`role` of the user: reader (pulls and reads) or admin (also changes things) (required)")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input instead of making a random one")
	cmd.MarkFlagRequired("role")
	return cmd
}

// userJSON is a user as user list --format json writes it, the shape the
// API uses.
type userJSON struct {
	Name               string    `json:"name"`
	Role               auth.Role `json:"role"`
	MustChangePassword bool      `json:"must_change_password"`
	CreatedAt          time.Time `json:"created_at"`
}

func (c *accountsCmd) userList() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List users with their roles",
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
			users, err := a.admin.Users(cmd.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				out := make([]userJSON, len(users))
				for i, u := range users {
					out[i] = userJSON{Name: u.Name, Role: u.Role, MustChangePassword: u.MustChangePassword, CreatedAt: u.CreatedAt}
				}
				return writeJSON(c.stdout, out)
			}
			if len(users) == 0 {
				_, err := fmt.Fprintln(c.stdout, "no users (serve creates the first admin when there is none)")
				return err
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tMUST CHANGE PASSWORD\tCREATED")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", u.Name, u.Role, u.MustChangePassword, u.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	addDataFlag(cmd, &c.flags)
	addFormatFlag(cmd, &format)
	return cmd
}

func (c *accountsCmd) userPasswd() *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "passwd NAME [--password-stdin]",
		Short: "Set a user's password and end its dashboard sessions; without --password-stdin print a new random one once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			pw, generated, err := readPassword(cmd, fromStdin)
			if err != nil {
				return err
			}
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			if _, err := a.user(cmd.Context(), name); err != nil {
				return err
			}
			if err := a.admin.SetPassword(cmd.Context(), a.p, name, pw); err != nil {
				return err
			}
			msg := fmt.Sprintf("set the password of %s and ended its sessions", name)
			if generated {
				if err := a.auth.ExpirePassword(cmd.Context(), name); err != nil {
					return err
				}
				return c.printSecret(msg+"; the new password, shown only this once (to be changed at the first dashboard login):", pw)
			}
			_, err = fmt.Fprintln(c.stdout, msg)
			return err
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input instead of making a random one")
	return cmd
}

func (c *accountsCmd) userRole() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "role NAME --role reader|admin",
		Short: "Make a user a reader or an admin; in force at its next request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %s", reason(err))
			}
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			if _, err := a.user(cmd.Context(), name); err != nil {
				return err
			}
			if err := a.admin.SetRole(cmd.Context(), a.p, name, r); err != nil {
				if errors.Is(err, auth.ErrInvalid) {
					return errors.New(reason(err))
				}
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "%s is now %s\n", name, r)
			return err
		},
	}
	addDataFlag(cmd, &c.flags)
	cmd.Flags().StringVar(&role, "role", "", "the new `role`: reader or admin")
	cmd.MarkFlagRequired("role")
	return cmd
}

func (c *accountsCmd) userDelete() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user with its API tokens and sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			a, err := c.open(false)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			u, err := a.user(ctx, name)
			if err != nil {
				return err
			}
			if u.Role == auth.RoleAdmin {
				if err := lastAdmin(ctx, a, name); err != nil {
					return err
				}
			}
			// auth refuses the last admin too, should one be deleted
			// between the check above and this.
			if err := a.admin.DeleteUser(ctx, a.p, name); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "deleted user %s with its tokens and sessions\n", name)
			return err
		},
	}
	addDataFlag(cmd, &c.flags)
	return cmd
}

// lastAdmin refuses, with what to do instead, when name is the only admin.
func lastAdmin(ctx context.Context, a *accounts, name string) error {
	users, err := a.admin.Users(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name != name && u.Role == auth.RoleAdmin {
			return nil
		}
	}
	return fmt.Errorf("%s is the last admin and cannot be deleted: add another admin first (breakwater user add NAME --role admin)", name)
}
