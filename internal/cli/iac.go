package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/cli/configload"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/fileout"
	"github.com/immutag/immutag/internal/iac"
)

// IACOptions are the inputs of immutag iac.
type IACOptions struct {
	// The dependencies: the streams, the config (for its policy; none is
	// fine) and the clock (exemption expiry).
	IO     IOStreams
	Config func() (*config.Config, error)
	Now    func() time.Time

	Paths          []string
	Format         string
	OutputFile     string
	FailOnFindings bool
	Fix            bool
	DryRun         bool
}

// NewCmdIAC builds `immutag iac`. runF, when set, replaces the run
// function (tests check the parsed options with it).
func NewCmdIAC(f *Factory, runF func(context.Context, *IACOptions) error) *cobra.Command {
	opts := &IACOptions{}
	cmd := &cobra.Command{
		Use:   "iac [PATH ...]",
		Short: "Find repositories declared mutable in Terraform, CloudFormation, Pulumi YAML and plan files",
		Long: `Scans infrastructure code (files, or directories walked; default .) for
resources that set container tag immutability, and grades each with the
same policy as audit (policy.mutable_tags_allowed, exemptions by repository
name, the same exclusion semantics):

  Terraform (.tf, .tf.json)   aws_ecr_repository, aws_ecr_repository_creation_template,
                              google_artifact_registry_repository (DOCKER),
                              docker_hub_repository, docker_hub_repository_immutable_tags,
                              harbor_project (without a rule), harbor_immutable_tag_rule,
                              gitlab_project_container_tag_protection
  CloudFormation (YAML, JSON) AWS::ECR::Repository, AWS::ECR::RepositoryCreationTemplate
  Terragrunt (terragrunt.hcl) the module each unit applies, with its inputs
  Pulumi YAML (Pulumi.yaml)   aws:ecr:Repository, aws:ecr:RepositoryCreationTemplate,
                              gcp:artifactregistry:Repository, once per Pulumi.<stack>.yaml
  Plans                       terraform show -json plan.out > plan.json

Local modules are followed, and variables, locals, count, for_each and
dynamic blocks are resolved where their values are literal. A setting only
known after apply is an error, never compliant. A missing setting is the
provider default (MUTABLE for ECR, immutable_tags false for Artifact
Registry). The config file is optional: without one the policy is strict.

Silence one resource with a comment on its declaration or the line above:

  # immutag-iac ignore mutable-tags: scratch repository, rebuilt every hour

--fix writes the edits (Terraform with hclwrite, templates line by line:
formatting and comments are kept); --dry-run prints them as a unified diff.

Exit codes: 0 scanned; 3 findings (drift or unresolvable) and
--fail-on-findings; 1 a file could not be read or parsed.`,
		Example: `  immutag iac                                   # the current directory
  immutag iac --fail-on-findings infra/         # CI gate: exit 3 on findings
  immutag iac -o sarif --output iac.sarif       # for github/codeql-action/upload-sarif
  immutag iac --dry-run infra/                  # the fix as a diff
  immutag iac --fix infra/                      # write it`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			ok := false
			for _, x := range iac.Formats {
				ok = ok || x == opts.Format
			}
			if !ok {
				return fmt.Errorf("-o %q: unknown format (want one of %s)", opts.Format, strings.Join(iac.Formats, ", "))
			}
			opts.IO, opts.Config, opts.Now = f.IO, f.Config, f.Now
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return iacRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Format, "output-format", "o", "table", "output format: "+strings.Join(iac.Formats, ", "))
	fl.StringVar(&opts.OutputFile, "output", "", "write the report to this file instead of stdout")
	fl.BoolVar(&opts.FailOnFindings, "fail-on-findings", false, "exit 3 when any finding is not suppressed (for CI gates)")
	fl.BoolVar(&opts.Fix, "fix", false, "write the edits that make the code compliant")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the edits as a unified diff and change nothing")
	return cmd
}

// iacPolicy is the config's policy, or the strict default without a
// config file (immutag iac needs no registry credentials).
func iacPolicy(loadConfig func() (*config.Config, error), now func() time.Time) (iac.Policy, error) {
	cfg, err := loadConfig()
	if err != nil {
		if errors.Is(err, configload.ErrNoConfig) {
			return iac.Policy{Now: now()}, nil
		}
		return iac.Policy{}, err
	}
	return iac.PolicyFrom(cfg.Policy, now()), nil
}

func iacRun(opts *IACOptions) error {
	pol, err := iacPolicy(opts.Config, opts.Now)
	if err != nil {
		return err
	}
	res := iac.Scan(opts.Paths, iac.Options{Policy: pol})
	if opts.Fix || opts.DryRun {
		changes, errs := iac.PlanFixes(res.Findings, pol)
		res.Errors = append(res.Errors, errs...)
		if opts.DryRun {
			for _, c := range changes {
				fmt.Fprint(opts.IO.Out, c.Diff())
			}
			fmt.Fprintf(opts.IO.ErrOut, "dry run: %d file(s) would change; run with --fix (without --dry-run) to write them\n", len(changes))
			return iacExit(res, opts.FailOnFindings)
		}
		if err := iac.WriteChanges(changes); err != nil {
			return err
		}
		for _, c := range changes {
			fmt.Fprintf(opts.IO.ErrOut, "fixed %s: %s\n", c.File, strings.Join(c.Addresses, ", "))
		}
		// Report what the code says now.
		res = iac.Scan(opts.Paths, iac.Options{Policy: pol})
		res.Errors = append(res.Errors, errs...)
	}
	if err := writeIAC(opts, res); err != nil {
		return err
	}
	return iacExit(res, opts.FailOnFindings)
}

func iacExit(res *iac.Result, failOnFindings bool) error {
	if n := res.Active(); failOnFindings && n > 0 {
		return &ExitError{Code: CodeDrift, Err: fmt.Errorf("iac: %d finding(s) need attention", n)}
	}
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		more := ""
		if len(res.Errors) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(res.Errors)-1)
		}
		return &ExitError{Code: CodeError, Err: fmt.Errorf("iac: %s%s", e.Error(), more)}
	}
	return nil
}

func writeIAC(opts *IACOptions, res *iac.Result) error {
	ro := iac.RenderOptions{ToolVersion: version()}
	if opts.OutputFile == "" {
		return iac.Render(opts.IO.Out, res, opts.Format, ro)
	}
	if err := fileout.Write(opts.OutputFile, 0o644, func(w io.Writer) error { return iac.Render(w, res, opts.Format, ro) }); err != nil {
		return fmt.Errorf("--output %w", err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "iac report written to %s (%s)\n", opts.OutputFile, opts.Format)
	return nil
}

// iacLink connects audit and fix to the infrastructure code (--iac).
type iacLink struct {
	idx   *iac.Index
	pol   iac.Policy
	paths []string
	// Counted on the engine's collector goroutine only.
	reverted, unmanaged, disagree int
}

// newIACLink scans the code; nil without --iac. A file that cannot be
// parsed is an error: a comparison with half the code would call managed
// repositories unmanaged.
func newIACLink(d Deps, paths []string) (*iacLink, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	pol, err := iacPolicy(d.Config, d.Now)
	if err != nil {
		return nil, err
	}
	res := iac.Scan(paths, iac.Options{Policy: pol})
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("--iac: %s", res.Errors[0].Error())
	}
	l := &iacLink{idx: iac.NewIndex(res), pol: pol, paths: paths}
	fmt.Fprintf(d.IO.ErrOut, "iac: %d resource(s) in %d file(s) declare repositories\n", l.idx.Len(), len(res.Files))
	return l, nil
}

// annotator is the engine hook, or nil.
func (l *iacLink) annotator() func(*audit.Finding) {
	if l == nil {
		return nil
	}
	return func(fd *audit.Finding) {
		l.idx.Annotate(fd)
		switch c := fd.Code; {
		case !c.Managed:
			l.unmanaged++
		case strings.HasPrefix(c.Finding, iac.Reverted):
			l.reverted++
		case !c.Agrees:
			l.disagree++
		}
	}
}

func (l *iacLink) summary(d Deps) {
	if l == nil {
		return
	}
	fmt.Fprintf(d.IO.ErrOut, "iac: %d repositories %s (immutable live, mutable in code); %d differ otherwise; %d not declared in %s\n",
		l.reverted, iac.Reverted, l.disagree, l.unmanaged, strings.Join(l.paths, ", "))
}

// emitPatch writes the code changes matching a fix plan as one unified
// diff, headed by the planned repositories no resource declares. The plan
// is read change by change (it lives on disk); only the declarations
// found are held.
func (l *iacLink) emitPatch(d Deps, file string, plan *audit.Plan) error {
	if l == nil || file == "" {
		return nil
	}
	out, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("--emit-patch %s: %w", file, err)
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	// Text before the first diff header is ignored by git apply and patch.
	patch := l.idx.NewPatch(func(u iac.ChangeTarget) {
		fmt.Fprintf(w, "# unmanaged (no scanned resource declares it): %s %s/%s\n", u.Kind, u.Scope, u.Repository)
	})
	err = plan.Each(func(c audit.PlannedChange) error {
		if !c.Change.Noop {
			patch.Add(iac.ChangeTarget{Kind: c.Change.Kind, Scope: c.Change.Scope, Repository: c.Change.Repository})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the plan: %w", err)
	}
	changes, errs := patch.Changes(l.pol)
	for _, c := range changes {
		w.WriteString(c.Diff())
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("--emit-patch %s: %w", file, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("--emit-patch %s: %w", file, err)
	}
	fmt.Fprintf(d.IO.ErrOut, "iac: patch for %d file(s) written to %s; %d changed repositories are unmanaged (listed at its top)\n", len(changes), file, patch.Unmanaged)
	for _, e := range errs {
		fmt.Fprintf(d.IO.ErrOut, "iac: %s\n", e.Error())
	}
	return nil
}
