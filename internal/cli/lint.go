package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/fileout"
	"github.com/immutag/immutag/internal/lint"
)

// DefaultLintPath is linted when no path is given.
const DefaultLintPath = ".github/workflows"

// LintOptions are the inputs of immutag lint.
type LintOptions struct {
	// IO is lint's one dependency: it reads workflow files, not the config.
	IO IOStreams

	Paths          []string
	Format         string
	OutputFile     string
	FailOnFindings bool
	MutableTags    []string
	// Fix applies the findings' edits in place; DryRun prints them as a
	// unified diff instead (and implies Fix).
	Fix    bool
	DryRun bool
}

// NewCmdLint builds `immutag lint`. runF, when set, replaces the run
// function (tests check the parsed options with it).
func NewCmdLint(f *Factory, runF func(context.Context, *LintOptions) error) *cobra.Command {
	opts := &LintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [PATH ...]",
		Short: "Find CI workflows that would push a mutable tag such as latest",
		Long: `Lints CI pipelines for pushes of mutable tags: GitHub Actions workflows and
composite actions, GitLab CI files (.gitlab-ci.yml and local includes) and
Docker bake files (docker-bake.hcl / .json, also when a workflow pushes
them through docker/bake-action or docker buildx bake --push). Paths are
files, or directories walked for *.yml, *.yaml and docker-bake.*; default
.github/workflows. Rules:

  metadata-auto-latest     docker/metadata-action emits latest on tag builds (flavor latest=auto)
  metadata-latest-true     docker/metadata-action flavor latest=true
  explicit-latest          type=raw,value=latest, :latest in build-push-action or docker commands
  implicit-latest          a pushed reference with no tag (that is latest)
  disabled-latest-no-veto  type=raw,value=latest,enable=false without flavor latest=false
  mutable-tag              other rolling tags (--mutable-tags) and branch-named tags, as warnings
  mutable-deploy           a deploy step runs an image by a mutable tag (kubectl set image, gcloud run deploy, ...)
  invalid-suppression      an ignore comment without a reason or with an unknown rule
  invalid-workflow         a workflow GitHub rejects (duplicate key, no jobs)

--fix applies every finding's edits in place (a finding whose edits
conflict with another's is left for the next run); --dry-run prints them
as a unified diff without writing.
Every finding carries the exact lines to change. Silence one with a comment
on the line or the line above, giving the reason:

  # immutag-lint ignore explicit-latest: dev registry, overwritten on purpose

Exit codes: 0 linted (findings are reported, not fatal, unless
--fail-on-findings); 3 findings and --fail-on-findings set; 1 a path could not
be read or parsed and no finding gate applies (the other files are still
linted and reported). Findings win over unreadable files, as drift wins in audit.`,
		Example: `  immutag lint                                  # .github/workflows
  immutag lint --fail-on-findings               # CI gate: exit 3 on findings
  immutag lint -o sarif --output lint.sarif     # for github/codeql-action/upload-sarif
  immutag lint --mutable-tags dev,nightly ci/workflows/release.yml
  immutag lint --dry-run .github/workflows .gitlab-ci.yml   # the fixes as a diff
  immutag lint --fix                            # apply them`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{DefaultLintPath}
			}
			if err := opts.validate(); err != nil {
				return err
			}
			opts.IO = f.IO
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return lintRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output-format", "o", "text", "output format: "+strings.Join(lint.Formats, ", "))
	fl.StringVar(&opts.OutputFile, "output", "", "write the report to this file instead of stdout")
	fl.BoolVar(&opts.FailOnFindings, "fail-on-findings", false, "exit 3 when any finding is not suppressed (for CI gates)")
	fl.StringSliceVar(&opts.MutableTags, "mutable-tags", append([]string(nil), lint.DefaultMutableTags...),
		"rolling tag names reported as warnings (comma-separated; empty to disable)")
	fl.BoolVar(&opts.Fix, "fix", false, "apply the findings' edits to the files in place")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the edits --fix would make as a unified diff; write nothing")
	return cmd
}

func (o *LintOptions) validate() error {
	ok := false
	for _, f := range lint.Formats {
		ok = ok || o.Format == f
	}
	if !ok {
		return fmt.Errorf("-o %q: unknown format (want one of %s)", o.Format, strings.Join(lint.Formats, ", "))
	}
	var tags []string
	for _, t := range o.MutableTags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.ContainsAny(t, ":/@ \t") {
			return fmt.Errorf("--mutable-tags %q: want bare tag names such as dev or stable", t)
		}
		tags = append(tags, t)
	}
	o.MutableTags = tags
	return nil
}

func lintRun(opts *LintOptions) error {
	cfg := lint.Config{MutableTags: opts.MutableTags}
	res := lint.Lint(opts.Paths, cfg)
	if opts.Fix || opts.DryRun {
		plan, err := lint.PlanFixes(res)
		if err != nil {
			return &ExitError{Code: CodeError, Err: err}
		}
		fixed, skipped := 0, 0
		for _, ff := range plan {
			fixed += ff.Fixed
			skipped += ff.Skipped
			if opts.DryRun {
				fmt.Fprint(opts.IO.Out, lint.UnifiedDiff(ff.File, ff.Old, ff.New))
				continue
			}
			if err := lint.WriteFix(ff); err != nil {
				return &ExitError{Code: CodeError, Err: fmt.Errorf("--fix %s: %w", ff.File, err)}
			}
		}
		left := res.Active() - fixed
		verb := "fixed"
		if opts.DryRun {
			verb = "would fix"
		}
		fmt.Fprintf(opts.IO.ErrOut, "lint: %s %d finding(s) in %d file(s); %d left (%d conflict with another fix: run --fix again)\n",
			verb, fixed, len(plan), left, skipped)
		if opts.DryRun {
			return lintExit(res, opts.FailOnFindings)
		}
		// Report what the files say now.
		res = lint.Lint(opts.Paths, cfg)
	}
	ro := lint.RenderOptions{ToolVersion: version()}
	if err := writeLint(opts, res, ro); err != nil {
		return err
	}
	return lintExit(res, opts.FailOnFindings)
}

// lintExit applies the exit-code contract: findings (with the gate) win
// over unreadable files. An unreadable or malformed workflow is exit 1
// rather than audit's 2: 2 means "a registry could not be read, try
// again", while a broken file is a permanent input error that a retry
// will not fix (and GitHub would reject the workflow too).
func lintExit(res *lint.Result, failOnFindings bool) error {
	if n := res.Active(); failOnFindings && n > 0 {
		return &ExitError{Code: CodeDrift, Err: fmt.Errorf("lint: %d finding(s) in %d file(s)", n, len(res.Files))}
	}
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		more := ""
		if len(res.Errors) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(res.Errors)-1)
		}
		return &ExitError{Code: CodeError, Err: fmt.Errorf("lint: %s%s", e.Error(), more)}
	}
	return nil
}

func writeLint(opts *LintOptions, res *lint.Result, ro lint.RenderOptions) error {
	if opts.OutputFile == "" {
		return lint.Render(opts.IO.Out, res, opts.Format, ro)
	}
	if err := fileout.Write(opts.OutputFile, 0o644, func(w io.Writer) error { return lint.Render(w, res, opts.Format, ro) }); err != nil {
		return fmt.Errorf("--output %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "lint report written to %s (%s)\n", opts.OutputFile, opts.Format)
	return nil
}
