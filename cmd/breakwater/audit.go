package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/config"
	"breakwater/internal/oci"
	"breakwater/internal/server"
	"breakwater/internal/store"
)

func newAuditCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	var filter store.AuditFilter
	var dgst, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List the firewall's audit log: verdicts, violations, releases, deletes and notes",
		Long: `Audit lists the firewall's decisions and the admins' actions, oldest first,
from the stores under --data: every image judged, every violation recorded in
audit mode, every quarantine, release, delete and note.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if dgst != "" {
				d, err := oci.ParseDigest(dgst)
				if err != nil {
					return fmt.Errorf("--digest: %w", err)
				}
				filter.Digest = d
			}
			c, err := load(f)
			if err != nil {
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
	cmd.Flags().StringVar(&filter.Action, "action", "", "only entries of this `action`: judged, violation, quarantined, not-inspected, released, deleted, noted or reevaluated")
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
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tREPOSITORY\tDIGEST\tDETAILS")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			e.At.UTC().Format(time.RFC3339), dash(e.Actor), e.Action, dash(e.Repo), dash(string(e.Digest)), e.Details)
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
	Details string    `json:"details,omitempty"`
}

func auditJSON(entries []store.AuditEntry) []auditEntry {
	out := make([]auditEntry, len(entries))
	for i, e := range entries {
		out[i] = auditEntry{e.ID, e.At, e.Actor, e.Action, e.Repo, string(e.Digest), e.Details}
	}
	return out
}
