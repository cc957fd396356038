package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// FixOptions are the inputs of immutag fix.
type FixOptions struct {
	// Deps are the run's dependencies, set from the Factory when the
	// command runs.
	Deps
	ScanFlags
	Apply             bool
	Yes               bool
	Journal           string
	CreationTemplates bool
	IAC               []string
	EmitPatch         string
	// AcceptImmutableAllowed: on registries that cannot keep
	// policy.mutable_tags_allowed mutable (Artifact Registry), fix anyway.
	AcceptImmutableAllowed bool
}

// NewCmdFix builds `immutag fix`.
func NewCmdFix(f *Factory, runF func(context.Context, *FixOptions) error) *cobra.Command {
	opts := &FixOptions{}
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Make drifting repositories immutable (dry run unless --apply)",
		Long: `Audits like 'immutag audit', then plans one change per drifting repository:
which repository, from what setting to what, and the API call.

Without --apply nothing is changed: the plan is printed and the command exits.
With --apply each change is made, journaled (one JSON line per write, synced
to disk) and read back to verify. A fix only ever makes tags more immutable:
it never unlocks, deletes or widens an exclusion, and keeps mutable only the
tags policy.mutable_tags_allowed allows, on every registry that can express
that. Artifact Registry cannot (one flag per repository), GitLab only for
literal tags and prefix* patterns, Nexus only for latest: what cannot be kept
mutable is held back unless --accept-immutable-allowed-tags is given. Artifactory
changes are permissions: they are printed, held back, and never applied. Exempt repositories
and repositories whose setting could not be read are never changed; where a
fact a fix depends on could not be read (ECR pull-through-cache rules), the
change is listed held back with the reason and the run exits 1.

--apply asks for confirmation on a terminal; without a terminal it refuses
unless --yes is given.`,
		Example: `  immutag fix                                   # plan only
  immutag fix --provider aws-prod --apply       # asks before writing
  immutag fix --apply --yes --journal fix.jsonl # unattended
  immutag fix --creation-templates --apply      # also make new ECR repositories start immutable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Yes && !opts.Apply {
				return errors.New("--yes only makes sense with --apply")
			}
			if opts.EmitPatch != "" && len(opts.IAC) == 0 {
				return errors.New("--emit-patch needs --iac PATH (the code to patch)")
			}
			if opts.Journal == "" {
				opts.Journal = defaultJournal(f.Getenv)
			}
			opts.Deps = f.Deps()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return fixRun(cmd.Context(), opts)
		},
	}
	opts.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&opts.Apply, "apply", false, "make the changes (default: print the plan only)")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (required with --apply when stdin is not a terminal)")
	fl.StringVar(&opts.Journal, "journal", "", "append-only JSON-lines record of every write (default $XDG_STATE_HOME/immutag/journal.jsonl)")
	fl.BoolVar(&opts.CreationTemplates, "creation-templates", false, "ECR: also make the ROOT repository creation template immutable (except policy.mutable_tags_allowed; not for pull-through caches)")
	fl.BoolVar(&opts.AcceptImmutableAllowed, "accept-immutable-allowed-tags", false,
		"fix repositories whose registry cannot keep policy.mutable_tags_allowed mutable (Artifact Registry; GitLab beyond literal and prefix* tags; Nexus beyond latest), making those tags immutable too; without it they are held back")
	fl.StringSliceVar(&opts.IAC, "iac", nil, "Terraform/CloudFormation paths that declare the repositories (see immutag iac)")
	fl.StringVar(&opts.EmitPatch, "emit-patch", "", "with --iac: write the code changes matching the fix to this file as a unified diff")
	return cmd
}

func defaultJournal(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "immutag", "journal.jsonl")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "immutag", "journal.jsonl")
	}
	return "immutag-journal.jsonl"
}

func fixRun(ctx context.Context, opts *FixOptions) error {
	d := opts.Deps
	dry := !opts.Apply
	if err := opts.checkOutput(); err != nil {
		return err
	}
	// Before the audit: a journal that cannot be one (a directory,
	// /dev/null, a report named by mistake) would only be refused once the
	// registries had been read. A sharded run journals beside it, checked
	// when it is locked.
	if sh := opts.Shard; opts.Apply && sh.Shard == "" && !sh.FromEnv {
		if err := audit.CheckJournal(opts.Journal); err != nil {
			return err
		}
	}
	code, err := newIACLink(d, opts.IAC)
	if err != nil {
		return err
	}
	ctx, cancel := withRunTimeout(ctx, opts.Timeout)
	defer cancel()
	res, err := scan(ctx, d, &opts.ScanFlags, scanMode{command: "fix", plan: true, planDefaults: opts.CreationTemplates, dryRun: &dry, annotate: code.annotator(),
		acceptImmutableAllowed: opts.AcceptImmutableAllowed})
	if err != nil {
		if timedOut(ctx) {
			return fmt.Errorf("fix stopped: --timeout %s reached while reading the registries; nothing was changed", opts.Timeout)
		}
		return err
	}
	rep := res.report
	defer rep.Close()
	changes := res.scan.Changes
	defer changes.Close()
	rep.Changes = audit.NewSpool[audit.ChangeRecord]()
	n := changes.Len()
	if err := code.emitPatch(d, opts.EmitPatch, changes); err != nil {
		return err
	}

	if !opts.Apply || n == 0 {
		if err := changes.EachRecord(rep.Changes.Add); err != nil {
			return fmt.Errorf("read the plan: %w", err)
		}
		if err := writeReport(d, &opts.ScanFlags, rep); err != nil {
			return err
		}
		held := changes.HeldBack()
		switch {
		case n == 0:
			fmt.Fprintln(d.IO.ErrOut, "nothing to change: no drifting repository can be fixed")
		case held == n:
			fmt.Fprintf(d.IO.ErrOut, "dry run: %d change(s) planned, all held back (see the report for why); nothing was changed.\n", n)
		default:
			fmt.Fprintf(d.IO.ErrOut, "dry run: %d change(s) planned, %d write call(s); nothing was changed. Run again with --apply to make them.\n",
				n-held, changes.Writes())
		}
		if held > 0 {
			return heldBackErr(held)
		}
		return auditExit(rep, false)
	}

	if !opts.Yes {
		if !d.IO.StdinTTY {
			return fmt.Errorf("refusing to apply %d change(s) without confirmation: stdin is not a terminal; review 'immutag fix' and pass --yes", n)
		}
		printPlanSummary(d, changes)
		ok, err := confirm(d, fmt.Sprintf("Apply %d change(s) (%d write calls)? [y/N] ", n, changes.Writes()))
		if err != nil {
			return err
		}
		if !ok {
			return &ExitError{Code: CodeError, Err: errors.New("aborted: nothing was changed")}
		}
	}

	jpath := shardJournal(opts.Journal, rep.Run.Shard)
	// One writer per journal: a second fix --apply (or serve --enforce) on
	// the same journal is refused at once, naming the holder.
	lock, err := audit.LockJournal(jpath, d.Now)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	j, err := audit.OpenJournal(jpath, rep.Run.ID, d.Now)
	if err != nil {
		return err
	}
	defer j.Close()
	if n, err := j.Recover(); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(d.IO.ErrOut, "journal %s: %d change(s) of an interrupted run had no outcome; recorded as interrupted (this run's audit read their settings back)\n", jpath, n)
	}
	fx := &audit.Fixer{Journal: j, Concurrency: opts.Concurrency}
	if d.IO.StderrTTY {
		fx.Progress = newLockProgress(d).update
	}
	applied, unverified, held, failed := 0, 0, 0, 0
	applyErr := fx.Apply(ctx, changes, func(r audit.ChangeRecord) {
		switch {
		case r.Verified:
			applied++
		case r.State == audit.StateUnverified:
			unverified++
		case r.State == audit.StateHeldBack:
			held++
		default:
			failed++
		}
		_ = rep.Changes.Add(r)
	})
	sorted, err := audit.SortedChanges(rep.Changes)
	if err != nil {
		return fmt.Errorf("order the change records: %w (journal: %s)", err, j.Path())
	}
	rep.Changes = sorted
	rep.Run.FinishedAt = d.Now().UTC()
	if err := writeReport(d, &opts.ScanFlags, rep); err != nil {
		return err
	}
	total := applied + unverified + held + failed
	msg := fmt.Sprintf("applied %d of %d change(s)", applied, total)
	if unverified > 0 {
		msg += fmt.Sprintf(", %d applied but unverified (the next run reads them again)", unverified)
	}
	if held > 0 {
		msg += fmt.Sprintf(", %d held back", held)
	}
	fmt.Fprintf(d.IO.ErrOut, "%s; journal: %s\n", msg, j.Path())
	switch {
	case timedOut(ctx):
		// Exit 1, not the interruption code: the run ended itself.
		return &ExitError{Code: CodeError, Err: fmt.Errorf("fix stopped: --timeout %s reached; changes in flight were journaled as failed (they may be applied: the next run reads them back), the rest not applied (journal: %s)", opts.Timeout, j.Path())}
	case applyErr != nil:
		return fmt.Errorf("fix stopped: %w (journal: %s)", applyErr, j.Path())
	case failed > 0:
		return fmt.Errorf("%d of %d change(s) failed or could not be verified (see the report and journal %s)", failed, total, j.Path())
	case held > 0:
		return heldBackErr(held)
	case unverified > 0:
		return &ExitError{Code: CodeIncomplete, Err: fmt.Errorf("%d change(s) written but not read back (see the report and journal %s); run immutag audit to verify them", unverified, j.Path())}
	}
	return auditExit(rep, false)
}

// heldBackErr ends a fix run whose plan has changes that must not be
// written: the job is not done, so the run is not a success.
func heldBackErr(n int) error {
	return &ExitError{Code: CodeError, Err: fmt.Errorf("%w: %d change(s) not written; the report says why for each", errHeldBack, n)}
}

// errHeldBack marks a fix run that ended non-zero only because changes
// were held back.
var errHeldBack = errors.New("held back")

func printPlanSummary(d Deps, plan *audit.Plan) {
	fmt.Fprintln(d.IO.ErrOut, "Planned changes:")
	i := 0
	_ = plan.Each(func(c audit.PlannedChange) error {
		if i == 20 {
			fmt.Fprintf(d.IO.ErrOut, "  ... and %d more\n", plan.Len()-20)
			return errStopEach
		}
		i++
		fmt.Fprintf(d.IO.ErrOut, "  %s %s %s: %s -> %s\n", c.Change.Provider, c.Change.Scope, c.Change.Repository, c.Change.From, c.Change.To)
		return nil
	})
}

var errStopEach = errors.New("stop")

func confirm(d Deps, prompt string) (bool, error) {
	fmt.Fprint(d.IO.ErrOut, prompt)
	line, err := bufio.NewReader(d.IO.In).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("read confirmation: %w", err)
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// lockProgress renders per-change progress for long write loops (ACR tag
// locks): done/total, the achieved rate and an ETA, redrawn at most a few
// times a second.
type lockProgress struct {
	d     Deps
	mu    sync.Mutex
	start map[string]time.Time
	last  time.Time
}

func newLockProgress(d Deps) *lockProgress {
	return &lockProgress{d: d, start: map[string]time.Time{}}
}

func (p *lockProgress) update(c providers.Change, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := c.Provider + "|" + c.Scope + "|" + c.Repository + "|" + c.Target
	now := time.Now()
	st, ok := p.start[key]
	if !ok {
		st = now
		p.start[key] = st
	}
	if done < total && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	line := fmt.Sprintf("\r%s %s: %d/%d", c.Provider, c.Repository, done, total)
	if el := now.Sub(st).Seconds(); el > 0 && done > 0 {
		rate := float64(done) / el
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += fmt.Sprintf("  %.0f/s  ETA %s", rate, eta.Round(time.Second))
	}
	fmt.Fprint(p.d.IO.ErrOut, line+"   ")
	if done >= total {
		fmt.Fprintln(p.d.IO.ErrOut)
		delete(p.start, key)
	}
}
