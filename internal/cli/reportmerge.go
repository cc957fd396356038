package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/report"
)

// ReportMergeOptions are the inputs of immutag report merge.
type ReportMergeOptions struct {
	ReportIO
	Inputs      []string
	Format      string
	OutputFile  string
	Verbose     bool
	FailOnDrift bool
}

// NewCmdReportMerge builds `immutag report merge SHARD.json...`.
func NewCmdReportMerge(f *Factory, runF func(context.Context, *ReportMergeOptions) error) *cobra.Command {
	opts := &ReportMergeOptions{}
	cmd := &cobra.Command{
		Use:   "merge SHARD.json...",
		Short: "Join the JSON reports of a sharded audit or fix into one",
		Long: `Joins the JSON reports written by 'immutag audit --shard I/N' (or fix) into the
report one unsharded run would have written: findings and changes in one stable
order (provider, scope, repository), scopes split between shards joined, warnings
unioned and the summary recomputed.

Reports from different configs, provider selections or shard counts are refused
(exit 1). A missing or duplicated shard is named on stderr and recorded in the
merged report as an unreadable scope, so the merged report is incomplete and the
command exits 2. As for audit: 3 with --fail-on-drift when anything drifts.`,
		Example: `  immutag report merge shard-*.json -o json --output report.json
  immutag report merge /reports/*.json --fail-on-drift -o sarif --output immutag.sarif`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if opts.Format != "" && !report.Valid(opts.Format) {
				return fmt.Errorf("-o %q: unknown format (want one of %s)", opts.Format, strings.Join(report.Formats, ", "))
			}
			opts.ReportIO = reportIO(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reportMergeRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output-format", "o", "", "output format: "+strings.Join(report.Formats, ", ")+" (default: table on a terminal, else json)")
	fl.StringVar(&opts.OutputFile, "output", "", "write to this file instead of stdout")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "list compliant repositories in table output even for large estates")
	fl.BoolVar(&opts.FailOnDrift, "fail-on-drift", false, "exit 3 when any repository of the merged report drifts")
	return cmd
}

func reportMergeRun(opts *ReportMergeOptions) error {
	r, problems, err := report.Merge(opts.Inputs)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, p := range problems {
		fmt.Fprintf(opts.IO.ErrOut, "report merge: %s\n", p.Message)
	}
	format := opts.Format
	if format == "" {
		format = defaultFormat(opts.IO, opts.OutputFile)
	}
	ro := report.Options{Verbose: opts.Verbose, FixView: r.Run.Command == "fix"}
	if opts.OutputFile == "" {
		ro.Color = colorOn(opts.IO, opts.Getenv)
	}
	if err := writeOutput(opts.IO, opts.OutputFile, format, func(w io.Writer) error {
		return report.Render(w, r, format, ro)
	}); err != nil {
		return err
	}
	return auditExit(r, opts.FailOnDrift)
}
