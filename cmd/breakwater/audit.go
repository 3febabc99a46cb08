package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/admin"
	"breakwater/internal/config"
	"breakwater/internal/oci"
	"breakwater/internal/server"
	"breakwater/internal/store"
	"breakwater/internal/when"
)

func newAuditCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	var filter store.AuditFilter
	var dgst, since, until, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the audit log: pulls, verdicts, violations, releases, deletes, notes and policy changes",
		Long: `Audit lists every pull, the firewall's decisions and the admins' actions,
oldest first (--newest: newest first), from the stores under --data: every
manifest pulled or refused (action pull or pull-denied, with the user, the
client's address and the verdict it was answered by), every image judged,
every violation recorded in audit mode, every quarantine, release, delete,
note and policy change.

--since and --until take a time (2026-03-01 or 2026-03-01T12:00:00Z) or a
duration back from now (24h, 7d).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if filter.Action != "" {
				if err := admin.CheckAuditAction(filter.Action); err != nil {
					return fmt.Errorf("--action: %w", err)
				}
			}
			if dgst != "" {
				d, err := oci.ParseDigest(dgst)
				if err != nil {
					return fmt.Errorf("--digest: %w", err)
				}
				filter.Digest = d
			}
			now := time.Now()
			var err error
			if filter.Since, err = when.Since(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if filter.Until, err = when.Since(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if !filter.Since.IsZero() && !filter.Until.IsZero() && filter.Until.Before(filter.Since) {
				return errors.New("--until is before --since")
			}
			c, err := load(f)
			if err != nil {
				return err
			}
			if err := existingData(c.Data); err != nil {
				return err
			}
			a, err := server.OpenAdmin(c, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			entries, err := a.Audit(cmd.Context(), filter, 0, limit)
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(stdout, auditJSON(entries))
			}
			return printAudit(stdout, entries)
		},
	}
	addDataFlag(cmd, &f)
	cmd.Flags().StringVar(&filter.Repo, "repo", "", "only entries of this canonical `repository`, such as docker.io/library/debian")
	cmd.Flags().StringVar(&dgst, "digest", "", "only entries of this image `digest`")
	cmd.Flags().StringVar(&filter.Action, "action", "", "only entries of this `action`: "+strings.Join(admin.AuditActions, ", "))
	cmd.Flags().StringVar(&filter.Actor, "user", "", "only entries by this `user` (anonymous for pulls without one, firewall for its own decisions)")
	cmd.Flags().StringVar(&filter.Client, "client", "", "only entries from this client `address`")
	cmd.Flags().StringVar(&since, "since", "", "only entries at or after this `time`")
	cmd.Flags().StringVar(&until, "until", "", "only entries before this `time`")
	cmd.Flags().BoolVar(&filter.Newest, "newest", false, "newest first")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most `n` entries (0: all)")
	addFormatFlag(cmd, &format)
	return cmd
}

func printAudit(w io.Writer, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no audit entries")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tCLIENT\tACTION\tRESULT\tREPOSITORY\tDIGEST\tDETAILS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.At.UTC().Format(time.RFC3339), dash(e.Actor), dash(e.Client), e.Action, dash(e.Result),
			dash(e.Repo), dash(string(e.Digest)), e.Details)
	}
	return tw.Flush()
}

// auditEntry is an audit entry as --format json prints it.
type auditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Repo    string    `json:"repository,omitempty"`
	Digest  string    `json:"digest,omitempty"`
	Client  string    `json:"client,omitempty"`
	Result  string    `json:"result,omitempty"`
	Details string    `json:"details,omitempty"`
}

func auditJSON(entries []store.AuditEntry) []auditEntry {
	out := make([]auditEntry, len(entries))
	for i, e := range entries {
		out[i] = auditEntry{e.ID, e.At, e.Actor, e.Action, e.Repo, string(e.Digest), e.Client, e.Result, e.Details}
	}
	return out
}
