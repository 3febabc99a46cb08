package main

import (
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/admin"
	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/oci"
	"breakwater/internal/server"
	"breakwater/internal/when"
)

// quarantineCmd holds what every quarantine subcommand shares.
type quarantineCmd struct {
	stdout io.Writer
	load   loader
	flags  config.Flags
	now    func() time.Time
}

func newQuarantineCmd(stdout io.Writer, load loader) *cobra.Command {
	q := &quarantineCmd{stdout: stdout, load: load, now: time.Now}
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show, release, delete and annotate quarantined images",
		Long: `The quarantine commands work on the stores of a data directory (--data, or
data in --config), the same ones serve uses: a release, delete or note is in
force on a running server at once. show, release, delete and note take a
quarantine id or the image digest (sha256:...).`,
	}
	cmd.PersistentFlags().StringVar(&q.flags.Data, "data", "", "data `directory` (default ./data or $BREAKWATER_DATA)")
	cmd.AddCommand(q.list(), q.show(), q.release(), q.delete(), q.note())
	return cmd
}

// open opens the firewall over the data directory's stores.
func (q *quarantineCmd) open() (*server.Admin, error) {
	c, err := q.load(q.flags)
	if err != nil {
		return nil, err
	}
	if err := existingData(c.Data); err != nil {
		return nil, err
	}
	return server.OpenAdmin(c, nil)
}

func (q *quarantineCmd) list() *cobra.Command {
	var repo, dgst, since, until, format string
	var filter firewall.Filter
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List quarantine records, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			filter.Repo = repo
			now := q.now()
			var err error
			if filter.Since, err = when.Since(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if filter.Until, err = when.Since(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if err := filter.Check(); err != nil {
				return err
			}
			if dgst != "" {
				d, err := oci.ParseDigest(dgst)
				if err != nil {
					return fmt.Errorf("--digest: %w", err)
				}
				filter.Digest = d
			}
			a, err := q.open()
			if err != nil {
				return err
			}
			defer a.Close()
			recs, err := a.List(cmd.Context(), filter, 0, limit)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(q.stdout, recs)
			}
			return printRecords(q.stdout, recs)
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", "only records of this canonical `repository`, such as docker.io/library/debian")
	cmd.Flags().StringVar(&dgst, "digest", "", "only records of this image `digest`")
	cmd.Flags().StringVar(&filter.Policy, "policy", "", "only records this `policy` failed")
	cmd.Flags().StringVar(&filter.MinSeverity, "severity", "", "only records with a finding of this `severity` or above: low, medium, high or critical")
	cmd.Flags().StringVar(&since, "since", "", "only records requested at or after this `time` (2026-03-01, an RFC 3339 time, or 24h, 7d back)")
	cmd.Flags().StringVar(&until, "until", "", "only records requested before this `time`")
	cmd.Flags().StringVar(&filter.Sort, "sort", "", "`order`: newest (default), oldest, score (highest first) or repo")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most `n` records, the first in order (0: all)")
	addFormatFlag(cmd, &format)
	return cmd
}

func printRecords(w io.Writer, recs []firewall.Record) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no quarantine records")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREPOSITORY\tTAG\tDIGEST\tPOLICIES\tREQUESTED\tRELEASED\tSEVERITY\tREQUESTED BY")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n",
			r.ID, r.Repo, dash(r.Tag), r.Digest, strings.Join(r.Policies, ","),
			r.RequestedAt.UTC().Format(time.RFC3339), r.Released, dash(r.Severity), dash(r.RequestedBy))
	}
	return tw.Flush()
}

func (q *quarantineCmd) show() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID|DIGEST",
		Short: "Show a quarantine record with its evidence and notes",
		Args:  quarantineArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			a, err := q.open()
			if err != nil {
				return err
			}
			defer a.Close()
			recs, err := a.Show(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(q.stdout, recs)
			}
			for i, r := range recs {
				if i > 0 {
					fmt.Fprintln(q.stdout)
				}
				if err := printRecord(q.stdout, r); err != nil {
					return err
				}
			}
			return nil
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func printRecord(w io.Writer, r firewall.Record) error {
	fmt.Fprintf(w, "id:          %s\nimage:       %s", r.ID, r.Repo)
	if r.Tag != "" {
		fmt.Fprintf(w, ":%s", r.Tag)
	}
	fmt.Fprintf(w, "@%s\nupstream:    %s\n", r.Digest, r.Upstream)
	fmt.Fprintf(w, "requested:   %s by %s\n", r.RequestedAt.UTC().Format(time.RFC3339), dash(r.RequestedBy))
	fmt.Fprintf(w, "policies:    %s\n", strings.Join(r.Policies, ", "))
	if r.Result != "" && r.Result != string(r.Evidence.Verdict.Result) {
		fmt.Fprintf(w, "now:         %s (judged again since)\n", r.Result)
	}
	if r.Waiver != nil {
		exp := "never expires"
		if !r.Waiver.Expires.IsZero() {
			exp = "expires " + r.Waiver.Expires.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "release:     by %s: %s (%s, in force: %v)\n", dash(r.Waiver.By), r.Waiver.Reason, exp, r.Released)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note:        %s %s: %s\n", n.At.UTC().Format(time.RFC3339), dash(n.By), n.Text)
	}
	return printEvidence(w, r.Evidence)
}

func (q *quarantineCmd) release() *cobra.Command {
	var reason, expires string
	cmd := &cobra.Command{
		Use:   "release ID|DIGEST --reason TEXT [--expires 720h|30d|2027-01-31]",
		Short: "Let a quarantined image be pulled: a waiver for its digest",
		Args:  quarantineArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason: must not be empty")
			}
			now := q.now()
			ttl, until, err := parseExpiry(expires, now)
			if err != nil {
				return err
			}
			// The waiver ends at a moment: a date or time is kept as given.
			if ttl > 0 {
				until = now.Add(ttl)
			}
			a, err := q.open()
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Release(cmd.Context(), args[0], actor(), reason, until); err != nil {
				return err
			}
			_, err = fmt.Fprintf(q.stdout, "released %s\n", args[0])
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the image may be pulled, kept in the audit log (required)")
	cmd.Flags().StringVar(&expires, "expires", "", "when the release ends: a `duration` from now (720h, 30d), a date (2027-01-31, at 00:00 UTC) or an RFC 3339 time; default never")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func (q *quarantineCmd) delete() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "delete ID|DIGEST --reason TEXT",
		Short: "Remove a quarantined image from quarantine and the cache, so its next pull is judged afresh",
		Args:  quarantineArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return errors.New("--reason: must not be empty")
			}
			a, err := q.open()
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Delete(cmd.Context(), args[0], actor(), reason); err != nil {
				return err
			}
			_, err = fmt.Fprintf(q.stdout, "deleted %s\n", args[0])
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the record is deleted, kept in the audit log (required)")
	cmd.MarkFlagRequired("reason")
	return cmd
}

func (q *quarantineCmd) note() *cobra.Command {
	return &cobra.Command{
		Use:   "note ID|DIGEST TEXT...",
		Short: "Add a note to a quarantine record",
		Args:  quarantineArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := strings.TrimSpace(strings.Join(args[1:], " "))
			if text == "" {
				return errors.New("note: the text must not be empty")
			}
			a, err := q.open()
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.AddNote(cmd.Context(), args[0], actor(), text); err != nil {
				return err
			}
			_, err = fmt.Fprintf(q.stdout, "noted %s\n", args[0])
			return err
		},
	}
}

// quarantineArgs is n with the first argument checked as the API checks
// a quarantine id or digest, so a malformed one is called that rather
// than not found, and never reaches a terminal raw.
func quarantineArgs(n cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := n(cmd, args); err != nil {
			return err
		}
		return admin.CheckQuarantineID(args[0])
	}
}

// actor names who runs a command in the audit log: the local user.
//
// TODO: name the admin's breakwater identity once the CLI authenticates
// to a server; a local account says little on a shared host.
func actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}
