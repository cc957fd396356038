package cli

import (
	"github.com/immutag/immutag/internal/safefile"

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
	"github.com/immutag/immutag/internal/fileout"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/report"
)

// ScanFlags are the flags audit and fix share.
type ScanFlags struct {
	Providers   []string
	Format      string
	OutputFile  string
	Concurrency int
	Verbose     bool
	Shard       ShardFlags
	// Timeout bounds the whole run (0 = none).
	Timeout time.Duration
}

// DefaultRunTimeout bounds audit and fix runs and each serve scan: long
// enough for a large estate, short enough that a stalled registry cannot
// hold a CI job or a schedule for ever.
const DefaultRunTimeout = 2 * time.Hour

// errRunTimeout is the cause of a run context that reached --timeout.
var errRunTimeout = errors.New("--timeout reached")

// withRunTimeout bounds ctx by d (0 = no bound).
func withRunTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, errRunTimeout)
}

// timedOut reports whether ctx ended because of --timeout.
func timedOut(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errRunTimeout)
}

// nameList is a repeatable, comma-separated list flag that refuses empty
// names: --provider "" used to select nothing and so audit everything.
type nameList struct{ p *[]string }

func (n *nameList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return fmt.Errorf("empty name in %q (want provider names from the config, comma-separated)", v)
		}
		*n.p = append(*n.p, part)
	}
	return nil
}

func (n *nameList) String() string { return strings.Join(*n.p, ",") }
func (n *nameList) Type() string   { return "names" }

func (s *ScanFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Var(&nameList{p: &s.Providers}, "provider", "only these configured providers: names or shell patterns such as 'aws-*' (repeatable or comma-separated)")
	fl.StringVarP(&s.Format, "output-format", "o", "", "output format: "+strings.Join(report.Formats, ", ")+" (default: table on a terminal, else json)")
	fl.StringVar(&s.OutputFile, "output", "", "write the report to this file instead of stdout")
	fl.IntVar(&s.Concurrency, "concurrency", audit.DefaultConcurrency, "scopes (account/region, project, registry...) listed at once")
	fl.BoolVarP(&s.Verbose, "verbose", "v", false, "list compliant repositories in table output even for large estates")
	fl.DurationVar(&s.Timeout, "timeout", DefaultRunTimeout, "stop the run after this long (0 = no limit); a scan stopped by it exits 2, a fix exits 1 with in-flight writes journaled")
	s.Shard.register(cmd)
}

func (s *ScanFlags) validate() error {
	if s.Format != "" && !report.Valid(s.Format) {
		return fmt.Errorf("-o %q: unknown format (want one of %s)", s.Format, strings.Join(report.Formats, ", "))
	}
	if s.Timeout < 0 {
		return fmt.Errorf("--timeout %s: want a duration >= 0 (0 = no limit)", s.Timeout)
	}
	if s.Concurrency < 1 || s.Concurrency > 256 {
		return fmt.Errorf("--concurrency %d: want 1..256", s.Concurrency)
	}
	return nil
}

// checkOutput refuses an --output that cannot be written (a directory, a
// missing directory) before the scan, which can take minutes and many API
// calls on a large estate.
func (s *ScanFlags) checkOutput() error {
	if s.OutputFile == "" {
		return nil
	}
	if err := fileout.Check(s.OutputFile); err != nil {
		return fmt.Errorf("--output %w", err)
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
	// Deps are the run's dependencies, set from the Factory when the
	// command runs.
	Deps
	ScanFlags
	FailOnDrift     bool
	Baseline        string
	Record          bool
	FailOnOverwrite bool
	IAC             []string
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

Formats (-o): table (default on a terminal), json (the contract report, default
otherwise), sarif (GitHub code scanning), junit (CI test reports), markdown
(PR comments, $GITHUB_STEP_SUMMARY), html (one offline file for auditors), csv,
ocsf (OCSF Compliance Finding events, one per line). Save json and re-render it
later with 'immutag report render'.

With --baseline OLD.json, --fail-on-drift fails only on repositories that drift
now and did not drift in OLD.json (matched by finding id), so a team can adopt
the gate before fixing everything.

With --record every tag -> digest the audit lists also goes into the tag
ledger (--ledger, else ledger.dsn_env / ledger.dsn, else
$XDG_STATE_HOME/immutag/ledger.db): the report gains overwrites[] (tags that
now name another image than the ledger recorded) and warns about floating tags
such as latest that an immutable setting froze. Ask it with 'immutag history'.

Exit codes: 0 clean, 1 error, 2 something could not be read, 3 drift found and
--fail-on-drift set (drift wins over incomplete), or an overwrite found with
--record --fail-on-overwrite.`,
		Example: `  immutag audit
  immutag audit --provider aws-prod -o json --output report.json
  immutag audit --fail-on-drift          # CI gate: exit 3 on drift
  immutag audit -o sarif --output immutag.sarif   # for GitHub code scanning
  immutag audit --baseline main.json --fail-on-drift   # fail only on drift not in main.json
  immutag audit --record --fail-on-overwrite   # record every tag's digest; exit 3 when one moved`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			opts.Deps = f.Deps()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return auditRun(cmd.Context(), opts)
		},
	}
	opts.register(cmd)
	cmd.Flags().BoolVar(&opts.FailOnDrift, "fail-on-drift", false, "exit 3 when any repository drifts (for CI gates)")
	cmd.Flags().StringVar(&opts.Baseline, "baseline", "", "earlier JSON report: --fail-on-drift then fails only on drift that is not in it")
	cmd.Flags().BoolVar(&opts.Record, "record", false, "record every tag -> digest in the ledger (see immutag history) and report overwrites")
	cmd.Flags().BoolVar(&opts.FailOnOverwrite, "fail-on-overwrite", false, "with --record: exit 3 when a tag was seen pointing at a new digest")
	cmd.Flags().StringSliceVar(&opts.IAC, "iac", nil, "Terraform/CloudFormation paths: report per repository whether the code agrees (see immutag iac)")
	return cmd
}

func auditRun(ctx context.Context, opts *AuditOptions) error {
	d := opts.Deps
	if err := opts.checkOutput(); err != nil {
		return err
	}
	// Read the baseline before scanning: a wrong path should not cost a scan.
	var base report.Baseline
	if opts.Baseline != "" {
		b, err := loadBaseline(opts.Baseline)
		if err != nil {
			return err
		}
		base = b
	}
	if opts.FailOnOverwrite && !opts.Record {
		return errors.New("--fail-on-overwrite needs --record: overwrites are found by comparing with the ledger")
	}
	// A ledger named without --record would silently record nothing.
	if d.Ledger != "" && !opts.Record {
		return errors.New("--ledger goes with --record: without it audit does not record tags (ask the ledger with immutag history)")
	}
	code, err := newIACLink(d, opts.IAC)
	if err != nil {
		return err
	}
	mode := scanMode{command: "audit", record: opts.Record, annotate: code.annotator()}
	ctx, cancel := withRunTimeout(ctx, opts.Timeout)
	defer cancel()
	res, err := scan(ctx, d, &opts.ScanFlags, mode)
	if err != nil {
		if timedOut(ctx) {
			return &ExitError{Code: CodeIncomplete, Err: fmt.Errorf("audit stopped: --timeout %s reached before every scope was read; nothing unread was graded and no report was written (raise --timeout, or narrow the run with --provider)", opts.Timeout)}
		}
		return err
	}
	defer res.report.Close()
	if err := writeReport(d, &opts.ScanFlags, res.report); err != nil {
		return err
	}
	code.summary(d)
	if ow := res.report.Overwrites; len(ow) > 0 {
		incidents := 0
		for _, o := range ow {
			if o.Immutable {
				incidents++
			}
		}
		fmt.Fprintf(d.IO.ErrOut, "ledger: %d tag(s) seen pointing at a new digest (%d in repositories immutable now); see immutag history --moved\n", len(ow), incidents)
		if opts.FailOnOverwrite && !(opts.FailOnDrift && res.report.Summary.Drift > 0) {
			return &ExitError{Code: CodeDrift, Err: fmt.Errorf("overwrite found: %d tag(s) now name a different image than the ledger recorded", len(ow))}
		}
	}
	if base == nil {
		return auditExit(res.report, opts.FailOnDrift)
	}
	fresh, err := base.NewDrift(res.report)
	if err != nil {
		return fmt.Errorf("compare with --baseline %s: %w", opts.Baseline, err)
	}
	fmt.Fprintf(d.IO.ErrOut, "baseline %s: %d drifting repositories, %d of them not drifting in the baseline\n",
		opts.Baseline, res.report.Summary.Drift, fresh)
	return gateExit(res.report, opts.FailOnDrift, fresh, opts.Baseline)
}

// loadBaseline reads the drifting finding ids of an earlier JSON report.
// Any problem is an exit-1 error naming the file.
func loadBaseline(path string) (report.Baseline, error) {
	fh, err := safefile.Open(path, safefile.ReportLimit)
	if err != nil {
		return nil, fmt.Errorf("--baseline %s: %w", path, err)
	}
	defer fh.Close()
	r, err := report.Load(fh)
	if err != nil {
		return nil, fmt.Errorf("--baseline %s: %w", path, err)
	}
	defer r.Close()
	b, err := report.NewBaseline(r)
	if err != nil {
		return nil, fmt.Errorf("--baseline %s: %w", path, err)
	}
	return b, nil
}

// gateExit is auditExit with a baseline: only drift that is new relative
// to it counts for --fail-on-drift; known drift is still in the report.
func gateExit(r *audit.Report, failOnDrift bool, fresh int, baseline string) error {
	if err := cannotRun(r); err != nil {
		return err
	}
	s := r.Summary
	if failOnDrift && fresh > 0 {
		return &ExitError{Code: CodeDrift, Err: fmt.Errorf("new drift: %d of %d repositories can have tags overwritten and did not drift in baseline %s (%d drifting in total)",
			fresh, s.Repositories, baseline, s.Drift)}
	}
	if s.Incomplete() {
		return &ExitError{Code: CodeIncomplete, Err: fmt.Errorf("scan incomplete: %d unreadable scope(s), %s", s.ScopeErrors, report.Count(s.Error, "unreadable repository", "unreadable repositories"))}
	}
	return nil
}

// cannotRun is the error of a run that could read nothing at all: every
// scope failed (unreachable endpoints, bad credentials) and no repository
// was graded. That is not an incomplete audit but no audit, so it exits 1
// and names each provider's error.
func cannotRun(r *audit.Report) error {
	if len(r.Scopes) == 0 || r.Summary.Repositories > 0 {
		return nil
	}
	var names []string
	first := map[string]string{}
	for _, sc := range r.Scopes {
		if sc.Status == "ok" {
			return nil
		}
		if _, ok := first[sc.Provider]; !ok {
			names = append(names, sc.Provider)
			first[sc.Provider] = sc.Error
		}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + first[n]
	}
	return &ExitError{Code: CodeError, Err: fmt.Errorf("cannot run: no scope could be read (%s)", strings.Join(parts, "; "))}
}

// auditExit applies the exit-code contract: drift (with --fail-on-drift)
// wins over an incomplete scan.
func auditExit(r *audit.Report, failOnDrift bool) error {
	if err := cannotRun(r); err != nil {
		return err
	}
	s := r.Summary
	if failOnDrift && s.Drift > 0 {
		return &ExitError{Code: CodeDrift, Err: fmt.Errorf("drift found: %d of %s can have tags overwritten", s.Drift, report.Count(s.Repositories, "repository", "repositories"))}
	}
	if s.Incomplete() {
		return &ExitError{Code: CodeIncomplete, Err: fmt.Errorf("scan incomplete: %d unreadable scope(s), %s", s.ScopeErrors, report.Count(s.Error, "unreadable repository", "unreadable repositories"))}
	}
	return nil
}

type scanMode struct {
	command      string
	record       bool
	plan         bool
	planDefaults bool
	dryRun       *bool
	shard        *audit.Shard
	annotate     func(*audit.Finding)
	// acceptImmutableAllowed: fix --accept-immutable-allowed-tags.
	acceptImmutableAllowed bool
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

func scan(ctx context.Context, d Deps, fl *ScanFlags, m scanMode) (*scanResult, error) {
	sh, err := fl.Shard.resolve(d.Getenv)
	if err != nil {
		return nil, err
	}
	m.shard = sh
	cfg, provs, err := loadProviders(ctx, d, fl.Providers)
	if err != nil {
		return nil, err
	}
	prog := newProgress(d.IO, m.command)
	res, err := runEngine(ctx, d, cfg, provs, fl.Concurrency, m, prog.repository)
	prog.done()
	return res, err
}

// loadProviders reads the config and builds the selected providers (all
// when names is empty).
func loadProviders(ctx context.Context, d Deps, names []string) (*config.Config, []providers.Provider, error) {
	cfg, err := d.Config()
	if err != nil {
		return nil, nil, err
	}
	selected, err := cfg.Select(names)
	if err != nil {
		return nil, nil, err
	}
	provs, err := d.BuildProviders(ctx, selected)
	if err != nil {
		return nil, nil, err
	}
	return cfg, provs, nil
}

// runEngine runs one audit engine pass over already built providers and
// stamps the report with tool and run metadata. audit, fix and serve share
// it, so a scheduled scan is exactly an audit. onRepository may be nil.
func runEngine(ctx context.Context, d Deps, cfg *config.Config, provs []providers.Provider, concurrency int, m scanMode, onRepository func(audit.Finding)) (*scanResult, error) {
	started := d.Now().UTC()
	warnInsecureTLS(d, cfg, provs)
	var rec *tagRecorder
	if m.record {
		store, err := d.openLedger(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer store.Close()
		rec = newTagRecorder(store, cfg.Policy.MutableTagsAllowed, d.Now)
		defer leanGCWhileRecording()()
	}
	pol := audit.PolicyFrom(cfg.Policy, started)
	pol.AcceptImmutableAllowed = m.acceptImmutableAllowed
	eng := &audit.Engine{
		Providers:    provs,
		Policy:       pol,
		Concurrency:  concurrency,
		Log:          d.Logger(),
		Plan:         m.plan,
		PlanDefaults: m.planDefaults,
		OnRepository: onRepository,
		Annotate:     m.annotate,
	}
	if m.shard.Sharded() {
		eng.Shard = m.shard
	}
	if rec != nil {
		eng.Record = rec
	}
	sc, err := eng.Run(ctx)
	if err != nil {
		if sc != nil {
			sc.Report.Close()
		}
		return nil, fmt.Errorf("scan stopped: %w", err)
	}
	rep := sc.Report
	if rec != nil {
		ow, err := rec.finish(ctx, !rep.Summary.Incomplete())
		if err != nil {
			rep.Close()
			return nil, fmt.Errorf("record tags: %w", err)
		}
		if ow == nil {
			ow = []audit.Overwrite{}
		}
		rep.Overwrites = ow
	}
	rep.Tool = audit.Tool{Name: "immutag", Version: version()}
	rep.Run = audit.Run{ID: newRunID(), StartedAt: started, FinishedAt: d.Now().UTC(), Command: m.command,
		ConfigSHA256: cfg.SHA256, DryRun: m.dryRun, ConfigFile: anchorPath(cfg.File)}
	rep.Run.ConfigLines = configLines(cfg, provs, rep.Run.ConfigFile)
	if m.shard.Sharded() {
		rep.Run.Shard = m.shard
	}
	return &scanResult{report: rep, scan: sc, cfg: cfg}, nil
}

// configLines maps each scanned provider to the line of its config entry,
// where SARIF results point.
func configLines(cfg *config.Config, provs []providers.Provider, file string) map[string]int {
	if file == "" {
		return nil
	}
	var lines map[string]int
	for _, p := range provs {
		for _, c := range cfg.Providers {
			if c.Name == p.Name() && c.Line > 0 {
				if lines == nil {
					lines = map[string]int{}
				}
				lines[c.Name] = c.Line
			}
		}
	}
	return lines
}

// anchorPath is the config path as the report records it: relative to the
// working directory when the file lies below it (in CI, the repository
// root), which is what SARIF consumers resolve results against.
func anchorPath(file string) string {
	if file == "" {
		return ""
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return filepath.ToSlash(file)
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(abs)
}

// colorOn says whether table output may use ANSI colours: only on a
// terminal that is not dumb, and never with NO_COLOR set (no-color.org).
func colorOn(io IOStreams, getenv func(string) string) bool {
	return io.StdoutTTY && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

func writeReport(d Deps, fl *ScanFlags, r *audit.Report) error {
	format := fl.format(d.IO)
	ro := report.Options{Verbose: fl.Verbose, FixView: r.Run.Command == "fix"}
	if fl.OutputFile == "" {
		ro.Color = colorOn(d.IO, d.Getenv)
	}
	return writeOutput(d.IO, fl.OutputFile, format, func(w io.Writer) error {
		return report.Render(w, r, format, ro)
	})
}

// writeOutput runs render against stdout, or against path when set: then
// it writes beside the target and renames, so a reader never sees half a
// report.
func writeOutput(streams IOStreams, path, format string, render func(io.Writer) error) error {
	if path == "" {
		return render(streams.Out)
	}
	// 0600 like the journal: a report is an inventory of every repository
	// and its weakness.
	if err := fileout.Write(path, 0o600, render); err != nil {
		return fmt.Errorf("--output %w", err)
	}
	fmt.Fprintf(streams.ErrOut, "report written to %s (%s)\n", path, format)
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

// warnInsecureTLS says, on every run, which providers have certificate
// verification off: a setting that is easy to leave on after a test.
func warnInsecureTLS(d Deps, cfg *config.Config, provs []providers.Provider) {
	if cfg == nil {
		return
	}
	used := map[string]bool{}
	for _, p := range provs {
		used[p.Name()] = true
	}
	for _, p := range cfg.Providers {
		if p.TLS.InsecureSkipVerify && used[p.Name] {
			d.Logger().Warn("tls.insecure_skip_verify is on: this provider's certificate is not verified, so anyone on the network path can read its credentials and forge its answers",
				"provider", p.Name)
		}
	}
}
