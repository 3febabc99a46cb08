package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"breakwater/internal/config"
	"breakwater/internal/firewall"
	"breakwater/internal/server"
	"breakwater/internal/vulndb"
)

func newVulnDBCmd(stdout io.Writer, load loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vulndb",
		Short: "Import and inspect the local vulnerability database",
	}
	cmd.AddCommand(newVulnDBImportCmd(stdout, load), newVulnDBStatusCmd(stdout, load))
	return cmd
}

func newVulnDBImportCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	var source string
	cmd := &cobra.Command{
		Use:   "import PATH|URL",
		Short: "Import vulnerability data from a file, a zip, a folder tree or an http(s) URL",
		Long: `Import reads OSV records (JSON or YAML, or osv.dev's all.zip), the Debian
security tracker's JSON export or per-CVE files, Alpine secdb JSON, NVD CVE
API 2.0 files and known-bad file digest lists, recognising each file by its
content, into <data>/vulndb.db. Importing the same source again replaces its
records. A running serve uses the new data at once. With the firewall on,
the images judged before are then judged again against the new data, and new
violations recorded, as serve does after a scheduled refresh.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := load(f)
			if err != nil {
				return err
			}
			var opts []vulndb.ImportOption
			if source != "" {
				opts = append(opts, vulndb.WithSource(source))
			}
			if err := importFeed(cmd.Context(), stdout, c.Data, args[0], opts); err != nil {
				return err
			}
			return reevaluate(cmd.Context(), stdout, c)
		},
	}
	addDataFlag(cmd, &f)
	cmd.Flags().StringVar(&source, "source", "", "source `name` to keep the data under (default the path or URL); a feed of vulndb.feeds with this name is replaced")
	return cmd
}

// importFeed imports path into the vulnerability database under dataDir
// and prints the report.
func importFeed(ctx context.Context, stdout io.Writer, dataDir, path string, opts []vulndb.ImportOption) error {
	db, err := server.OpenVulnDB(dataDir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := vulndb.Import(ctx, db, path, opts...)
	if err != nil {
		return err
	}
	return printReport(stdout, r)
}

// reevaluate judges the images judged before again, against the data just
// imported, when the firewall is on.
func reevaluate(ctx context.Context, stdout io.Writer, c config.Config) error {
	if !c.Firewall.On() {
		return nil
	}
	a, err := server.OpenAdmin(c, nil)
	if err != nil {
		return fmt.Errorf("imported, but cannot re-evaluate cached images: %w", err)
	}
	defer a.Close()
	if err := a.Ready(ctx); errors.Is(err, firewall.ErrNotReady) {
		_, err = fmt.Fprintln(stdout, "no vulnerability records yet: the firewall is not ready, nothing re-evaluated")
		return err
	}
	n, err := a.Reevaluate(ctx)
	if err != nil {
		return fmt.Errorf("imported, but re-evaluating cached images failed: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "re-evaluated cached images: %d with new violations\n", n)
	return err
}

// printReport writes what an import read: records per ecosystem, then the
// files it did not recognise.
func printReport(w io.Writer, r vulndb.Report) error {
	fmt.Fprintf(w, "imported %s: %d records from %d files\n", r.Source, r.Records, r.Files)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS")
	for _, eco := range slices.Sorted(maps.Keys(r.Counts)) {
		fmt.Fprintf(tw, "%s\t%d\n", eco, r.Counts[eco])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Unknown > 0 {
		fmt.Fprintf(w, "%d files of unknown format, skipped: %s\n", r.Unknown, strings.Join(r.UnknownFiles, ", "))
	}
	return nil
}

func newVulnDBStatusCmd(stdout io.Writer, load loader) *cobra.Command {
	var f config.Flags
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the imported sources, their record counts per ecosystem and their age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			c, err := load(f)
			if err != nil {
				return err
			}
			if err := existingData(c.Data); err != nil {
				return err
			}
			db, err := server.OpenVulnDB(c.Data, nil)
			if err != nil {
				return err
			}
			defer db.Close()
			var st status
			if st.Sources, err = db.Status(cmd.Context()); err != nil {
				return err
			}
			if st.Ready, err = db.Ready(cmd.Context()); err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(stdout, st)
			}
			return printStatus(stdout, st, time.Now())
		},
	}
	addDataFlag(cmd, &f)
	addFormatFlag(cmd, &format)
	return cmd
}

// printStatus writes one line per source and then the totals per
// ecosystem, the numbers a firewall's findings rest on.
func printStatus(w io.Writer, st status, now time.Time) error {
	if len(st.Sources) == 0 {
		_, err := fmt.Fprintln(w, "no vulnerability data imported: the firewall is not ready (run breakwater vulndb import, or serve with vulndb.feeds)")
		return err
	}
	if !st.Ready {
		fmt.Fprintln(w, "no vulnerability records, only known-bad file digests: the firewall is not ready")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tIMPORTED\tAGE\tRECORDS\tUNKNOWN FILES\tBY ECOSYSTEM")
	total := map[string]int{}
	for _, s := range st.Sources {
		var by []string
		for _, eco := range slices.Sorted(maps.Keys(s.Counts)) {
			total[eco] += s.Counts[eco]
			by = append(by, fmt.Sprintf("%s:%d", eco, s.Counts[eco]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n",
			s.Name, s.ImportedAt.UTC().Format(time.RFC3339), age(now.Sub(s.ImportedAt)), s.Records, s.Unknown, strings.Join(by, " "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS")
	for _, eco := range slices.Sorted(maps.Keys(total)) {
		fmt.Fprintf(tw, "%s\t%d\n", eco, total[eco])
	}
	return tw.Flush()
}

// status is what vulndb status reports; --format json prints it as is.
type status struct {
	// Ready says whether the firewall can judge: some vulnerability
	// records are loaded.
	Ready   bool            `json:"ready"`
	Sources []vulndb.Source `json:"sources"`
}

// age rounds d for reading: minutes under two hours, hours under two
// days, days beyond.
func age(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// addDataFlag adds --data alone, for commands that work on the local
// state and serve nothing.
func addDataFlag(cmd *cobra.Command, f *config.Flags) {
	cmd.Flags().StringVar(&f.Data, "data", "", "data `directory` (default ./data or $BREAKWATER_DATA)")
}

func addFormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVar(format, "format", "table", "output `format`: table or json")
}

func checkFormat(format string) error {
	if format != "table" && format != "json" {
		return fmt.Errorf("--format: must be table or json, not %q", format)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// existingData refuses a data directory that is not there, for commands
// that only read or change what serve stored: run in the wrong directory,
// they would otherwise make an empty one and report that it is empty.
func existingData(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no data directory at %s: pass --data (or --config) naming the one serve uses", dir)
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	return nil
}
