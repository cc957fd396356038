package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/report"
)

// ScanFlags are the flags audit and fix share.
type ScanFlags struct {
	Providers   []string
	Format      string
	OutputFile  string
	Concurrency int
	Verbose     bool
}

func (s *ScanFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&s.Providers, "provider", nil, "only these configured provider names (repeatable or comma-separated)")
	fl.StringVarP(&s.Format, "output-format", "o", "", "output format: "+strings.Join(report.Formats, ", ")+" (default: table on a terminal, else json)")
	fl.StringVar(&s.OutputFile, "output", "", "write the report to this file instead of stdout")
	fl.IntVar(&s.Concurrency, "concurrency", audit.DefaultConcurrency, "scopes (account/region, project, registry...) listed at once")
	fl.BoolVarP(&s.Verbose, "verbose", "v", false, "list compliant repositories in table output even for large estates")
}

func (s *ScanFlags) validate() error {
	if s.Format != "" && !report.Valid(s.Format) {
		return fmt.Errorf("-o %q: unknown format (want one of %s)", s.Format, strings.Join(report.Formats, ", "))
	}
	if s.Concurrency < 1 || s.Concurrency > 256 {
		return fmt.Errorf("--concurrency %d: want 1..256", s.Concurrency)
	}
	return nil
}

// format picks the output format: explicit -o wins, else table only when
// the report goes to a terminal.
func (s *ScanFlags) format(io IOStreams) string {
	if s.Format != "" {
		return s.Format
	}
	if s.OutputFile == "" && io.StdoutTTY {
		return "table"
	}
	return "json"
}

// AuditOptions are the inputs of immutag audit.
type AuditOptions struct {
	ScanFlags
	FailOnDrift bool
	Baseline    string
}

// NewCmdAudit builds `immutag audit`. runF replaces the run function in tests.
func NewCmdAudit(f *Factory, runF func(context.Context, *AuditOptions) error) *cobra.Command {
	opts := &AuditOptions{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Report which repositories let a tag be overwritten",
		Long: `Lists every repository of every configured provider, reads its tag
immutability setting and grades it against the policy:

  compliant  every tag is immutable (or only tags policy.mutable_tags_allowed names stay mutable)
  drift      some tag can be overwritten (mutable, partial with other patterns, unsupported)
  exempt     drift covered by policy.exemptions, or mutable by nature (ECR pull-through cache)
  error      the setting could not be read; never counted as compliant

Scopes (account x region, project, registry, namespace) are listed in parallel;
one unreadable scope is reported and the others still are.

Exit codes: 0 clean, 1 error, 2 something could not be read, 3 drift found and
--fail-on-drift set (drift wins over incomplete).`,
		Example: `  immutag audit
  immutag audit --provider aws-prod -o json --output report.json
  immutag audit --fail-on-drift          # CI gate: exit 3 on drift`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Baseline != "" {
				return errors.New("--baseline is not supported yet in this build")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditRun(cmd.Context(), f, opts)
		},
	}
	opts.register(cmd)
	cmd.Flags().BoolVar(&opts.FailOnDrift, "fail-on-drift", false, "exit 3 when any repository drifts (for CI gates)")
	cmd.Flags().StringVar(&opts.Baseline, "baseline", "", "earlier JSON report; with --fail-on-drift only new drift fails (not yet implemented)")
	_ = cmd.Flags().MarkHidden("baseline")
	return cmd
}

func auditRun(ctx context.Context, f *Factory, opts *AuditOptions) error {
	res, err := scan(ctx, f, &opts.ScanFlags, scanMode{command: "audit"})
	if err != nil {
		return err
	}
	defer res.report.Close()
	if err := writeReport(f, &opts.ScanFlags, res.report); err != nil {
		return err
	}
	return auditExit(res.report, opts.FailOnDrift)
}

// auditExit applies the exit-code contract: drift (with --fail-on-drift)
// wins over an incomplete scan.
func auditExit(r *audit.Report, failOnDrift bool) error {
	s := r.Summary
	if failOnDrift && s.Drift > 0 {
		return &ExitError{Code: CodeDrift, Err: fmt.Errorf("drift found: %d of %d repositories can have tags overwritten", s.Drift, s.Repositories)}
	}
	if s.Incomplete() {
		return &ExitError{Code: CodeIncomplete, Err: fmt.Errorf("scan incomplete: %d unreadable scope(s), %d unreadable repositories", s.ScopeErrors, s.Error)}
	}
	return nil
}

type scanMode struct {
	command      string
	plan         bool
	planDefaults bool
	dryRun       *bool
}

type scanResult struct {
	report *audit.Report
	scan   *audit.Scan
	cfg    *config.Config
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func scan(ctx context.Context, f *Factory, fl *ScanFlags, m scanMode) (*scanResult, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	selected, err := cfg.Select(fl.Providers)
	if err != nil {
		return nil, err
	}
	provs, err := f.BuildProviders(ctx, selected)
	if err != nil {
		return nil, err
	}
	started := f.Now().UTC()
	eng := &audit.Engine{
		Providers:    provs,
		Policy:       audit.PolicyFrom(cfg.Policy, started),
		Concurrency:  fl.Concurrency,
		Log:          f.Logger(),
		Plan:         m.plan,
		PlanDefaults: m.planDefaults,
	}
	prog := newProgress(f.IO, m.command)
	eng.OnRepository = prog.repository
	sc, err := eng.Run(ctx)
	prog.done()
	if err != nil {
		if sc != nil {
			sc.Report.Close()
		}
		return nil, fmt.Errorf("scan stopped: %w", err)
	}
	rep := sc.Report
	rep.Tool = audit.Tool{Name: "immutag", Version: version()}
	rep.Run = audit.Run{ID: newRunID(), StartedAt: started, FinishedAt: f.Now().UTC(), Command: m.command,
		ConfigSHA256: cfg.SHA256, DryRun: m.dryRun}
	return &scanResult{report: rep, scan: sc, cfg: cfg}, nil
}

func writeReport(f *Factory, fl *ScanFlags, r *audit.Report) error {
	format := fl.format(f.IO)
	ro := report.Options{Verbose: fl.Verbose, FixView: r.Run.Command == "fix"}
	if fl.OutputFile == "" {
		ro.Color = f.IO.StdoutTTY && f.Getenv("NO_COLOR") == ""
		return report.Render(f.IO.Out, r, format, ro)
	}
	// Write beside the target and rename, so a reader never sees half a report.
	dir := filepath.Dir(fl.OutputFile)
	tmp, err := os.CreateTemp(dir, ".immutag-report-*")
	if err != nil {
		return fmt.Errorf("--output %s: %w", fl.OutputFile, err)
	}
	defer os.Remove(tmp.Name())
	if err := report.Render(tmp, r, format, ro); err != nil {
		tmp.Close()
		return fmt.Errorf("--output %s: %w", fl.OutputFile, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("--output %s: %w", fl.OutputFile, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--output %s: %w", fl.OutputFile, err)
	}
	if err := os.Rename(tmp.Name(), fl.OutputFile); err != nil {
		return fmt.Errorf("--output %s: %w", fl.OutputFile, err)
	}
	fmt.Fprintf(f.IO.ErrOut, "report written to %s (%s)\n", fl.OutputFile, format)
	return nil
}

// progress prints a running count on stderr when it is a terminal, at most
// a few times a second, so long scans show they are alive.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	n     int
	last  time.Time
	label string
}

func newProgress(io IOStreams, label string) *progress {
	return &progress{w: io.ErrOut, on: io.StderrTTY, label: label}
}

func (p *progress) repository(audit.Finding) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if time.Since(p.last) > 200*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r%s: %d repositories read", p.label, p.n)
	}
}

func (p *progress) done() {
	if p.on && p.n > 0 {
		fmt.Fprintf(p.w, "\r%s: %d repositories read\n", p.label, p.n)
	}
}
