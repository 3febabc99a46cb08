package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"breakwater/internal/firewall"
	"breakwater/internal/inventory"
)

// printEvidence writes a verdict's evidence for operators: the result and
// the policies that fired, then every finding.
func printEvidence(w io.Writer, ev firewall.Evidence) error {
	v := ev.Verdict
	fmt.Fprintf(w, "verdict:     %s", v.Result)
	if v.Reason != "" {
		fmt.Fprintf(w, " (%s)", v.Reason)
	}
	fmt.Fprintln(w)
	if ev.InspectionError != "" {
		fmt.Fprintf(w, "inspection:  failed: %s\n", ev.InspectionError)
	}
	if ev.Platform != "" {
		fmt.Fprintf(w, "platform:    %s\n", ev.Platform)
	}
	fmt.Fprintf(w, "components:  %d\nfindings:    %d (%d malware)\n", ev.Components, len(ev.Findings), ev.Malware())
	for _, m := range v.Matches {
		fmt.Fprintf(w, "policy:      %s (%s) fired on %d findings\n", m.Policy, m.Action, len(m.Findings))
	}
	if v.Waiver != nil {
		fmt.Fprintf(w, "released:    %s\n", v.Waiver.Reason)
	}
	if len(ev.Findings) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return printFindings(w, ev.Findings)
}

// printFindings writes one line per finding, the highest scores first and
// malware above all, so the line that matters is the first one read.
func printFindings(w io.Writer, fs []inventory.Finding) error {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b inventory.Finding) int {
		if a.Malware != b.Malware {
			if a.Malware {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Score, a.Score), strings.Compare(a.ID, b.ID), strings.Compare(a.Component.Name, b.Component.Name))
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPACKAGE\tINSTALLED\tFIXED\tSCORE\tSEVERITY\tSTATUS")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			f.ID, f.Component.Name, f.Component.Version, dash(f.FixedVersion), score(f), dash(severity(f)), dash(f.Status))
	}
	return tw.Flush()
}

func score(f inventory.Finding) string {
	if !f.Scored {
		return "unscored"
	}
	return fmt.Sprintf("%.1f", f.Score)
}

func severity(f inventory.Finding) string {
	if f.Malware {
		return "malware"
	}
	return f.Severity
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
