package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/report"
)

// NewCmdReport builds `immutag report` (render, diff).
func NewCmdReport(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Re-render or compare saved JSON reports",
		Long: `Works on JSON reports saved with 'immutag audit -o json --output FILE' (or
'immutag fix'); it reads no config and calls no registry.

  render  re-render one report in any output format
  diff    compare two reports: new drift, resolved, still drifting, new and
          removed repositories
  merge   join the reports of a sharded run (--shard I/N) into one`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdReportRender(f, nil), NewCmdReportDiff(f, nil), NewCmdReportMerge(f, nil))
	return cmd
}

// ReportIO are the dependencies of the report subcommands: the streams,
// and the environment for NO_COLOR and TERM.
type ReportIO struct {
	IO     IOStreams
	Getenv func(string) string
}

func reportIO(f *Factory) ReportIO { return ReportIO{IO: f.IO, Getenv: f.Getenv} }

// ReportRenderOptions are the inputs of immutag report render.
type ReportRenderOptions struct {
	ReportIO
	Input      string
	Format     string
	OutputFile string
	Verbose    bool
}

// NewCmdReportRender builds `immutag report render REPORT.json`.
func NewCmdReportRender(f *Factory, runF func(context.Context, *ReportRenderOptions) error) *cobra.Command {
	opts := &ReportRenderOptions{}
	cmd := &cobra.Command{
		Use:   "render REPORT.json",
		Short: "Re-render a saved JSON report in another format",
		Long: `Reads a JSON report and writes it in another format: ` + strings.Join(report.Formats, ", ") + `.
The output is the same as the audit or fix run would have written with that -o.
SARIF results point at the config file and line recorded in the report.`,
		Example: `  immutag report render report.json -o html --output report.html
  immutag report render report.json -o sarif --output immutag.sarif
  immutag report render report.json -o markdown >> "$GITHUB_STEP_SUMMARY"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Input = args[0]
			if opts.Format != "" && !report.Valid(opts.Format) {
				return fmt.Errorf("-o %q: unknown format (want one of %s)", opts.Format, strings.Join(report.Formats, ", "))
			}
			opts.ReportIO = reportIO(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reportRenderRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output-format", "o", "", "output format: "+strings.Join(report.Formats, ", ")+" (default: table on a terminal, else json)")
	fl.StringVar(&opts.OutputFile, "output", "", "write to this file instead of stdout")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "list compliant repositories in table output even for large estates")
	return cmd
}

func reportRenderRun(opts *ReportRenderOptions) error {
	r, err := report.LoadFile(opts.Input)
	if err != nil {
		return err
	}
	defer r.Close()
	format := opts.Format
	if format == "" {
		format = defaultFormat(opts.IO, opts.OutputFile)
	}
	ro := report.Options{Verbose: opts.Verbose, FixView: r.Run.Command == "fix"}
	if opts.OutputFile == "" {
		ro.Color = colorOn(opts.IO, opts.Getenv)
	}
	return writeOutput(opts.IO, opts.OutputFile, format, func(w io.Writer) error {
		return report.Render(w, r, format, ro)
	})
}

// defaultFormat is table for a terminal, json otherwise (as audit does).
func defaultFormat(streams IOStreams, outputFile string) string {
	if outputFile == "" && streams.StdoutTTY {
		return "table"
	}
	return "json"
}

// ReportDiffOptions are the inputs of immutag report diff.
type ReportDiffOptions struct {
	ReportIO
	Old, New   string
	Format     string
	OutputFile string
}

// NewCmdReportDiff builds `immutag report diff OLD.json NEW.json`.
func NewCmdReportDiff(f *Factory, runF func(context.Context, *ReportDiffOptions) error) *cobra.Command {
	opts := &ReportDiffOptions{}
	cmd := &cobra.Command{
		Use:   "diff OLD.json NEW.json",
		Short: "Compare two saved JSON reports",
		Long: `Compares two JSON reports repository by repository (by finding id, which is
stable for a provider, scope and repository) and lists:

  new drift             drifts now and did not drift in OLD (or is new)
  still drifting        drifted in OLD and still does
  resolved              drifted in OLD, compliant or exempt now
  new repositories      in NEW only
  removed repositories  in OLD only, from a scope NEW read completely
  not read              unreadable in NEW, or in OLD only from a scope or
                        provider NEW did not read

The exit code is 0 whatever the difference; use 'immutag audit --baseline OLD.json
--fail-on-drift' as the CI gate.`,
		Example: `  immutag report diff last-week.json today.json
  immutag report diff main.json pr.json -o markdown >> "$GITHUB_STEP_SUMMARY"`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("report diff takes two reports, OLD.json and NEW.json (got %d argument(s)); see immutag report diff --help", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Old, opts.New = args[0], args[1]
			if opts.Format != "" && !slices.Contains(report.DiffFormats, opts.Format) {
				return fmt.Errorf("-o %q: unknown diff format (want one of %s)", opts.Format, strings.Join(report.DiffFormats, ", "))
			}
			opts.ReportIO = reportIO(f)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reportDiffRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output-format", "o", "", "output format: "+strings.Join(report.DiffFormats, ", ")+" (default: table on a terminal, else json)")
	fl.StringVar(&opts.OutputFile, "output", "", "write to this file instead of stdout")
	return cmd
}

func reportDiffRun(opts *ReportDiffOptions) error {
	old, err := report.LoadFile(opts.Old)
	if err != nil {
		return err
	}
	defer old.Close()
	cur, err := report.LoadFile(opts.New)
	if err != nil {
		return err
	}
	defer cur.Close()
	d, err := report.NewDiff(old, cur)
	if err != nil {
		return err
	}
	format := opts.Format
	if format == "" {
		format = defaultFormat(opts.IO, opts.OutputFile)
	}
	return writeOutput(opts.IO, opts.OutputFile, format, func(w io.Writer) error {
		return report.RenderDiff(w, d, format)
	})
}
