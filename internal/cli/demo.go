package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// DemoOptions are the inputs of immutag demo.
type DemoOptions struct {
	// Deps are the run's dependencies, set from the Factory when the
	// command runs: the streams, the clock, the logger, and the user's
	// environment for anything the emulators do not set (NO_COLOR).
	Deps

	// Started, when set, receives the variables the demo hands its
	// adapters once the emulators run (tests look for the fake secrets
	// among them in what the demo printed).
	Started func(env map[string]string)
}

// NewCmdDemo builds `immutag demo`.
func NewCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run audit -> fix plan -> fix apply -> re-audit on built-in emulators",
		Long: `Starts the built-in registry emulators on loopback, seeded with repositories
in every immutability mode each registry has, then runs the whole job:

  1. audit --record        what is mutable, partial, exempt; tags into the ledger
  2. overwrite tags        accepted: the repository is mutable
  3. fix (dry run)         the plan: which repository, from what to what, the API
                           call; Artifact Registry held back with the reason
  4. fix --apply --yes     journaled writes, each read back to verify
  5. overwrite again       a release tag is refused; latest, which the policy
                           allows to move, is still accepted (both accepted where
                           the registry has no setting: oci, ghcr)
  6. Artifact Registry     fix --accept-immutable-allowed-tags: latest too
  7. audit --record        clean; the ledger reports the overwrites it saw
  8. history               what the overwritten tags named before

It needs no network and no credentials, and touches no real registry.
To run the commands yourself against the same emulators, use 'immutag sandbox'.`,
		Example: `  immutag demo                      # the whole job, steps 1-8
  immutag demo --log-level info     # also the adapters' progress on stderr
  immutag sandbox --write-config sandbox.yaml   # the emulators, to try each command by hand`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Deps = f.Deps()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunDemo(cmd.Context(), opts)
		},
	}
	return cmd
}

// demoPolicy shows the policy features: an allowed mutable tag, an active
// exemption and an expired one (reported, not applied).
func demoPolicy(now time.Time) config.Policy {
	return config.Policy{
		MutableTagsAllowed: []string{"latest"},
		Exemptions: []config.Exemption{
			{Provider: "*", Repository: "sandbox/*", Reason: "scratch space, rebuilt nightly", Expires: now.AddDate(0, 3, 0).Truncate(24 * time.Hour)},
			{Provider: "aws-demo", Repository: "data/etl", Reason: "migration window", Expires: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)},
			// The Quay demo has a namespace whose instance lacks FEATURE_IMMUTABLE_TAGS:
			// nothing can fix it from here, so the platform team records why.
			{Provider: "quay-demo", Scope: "legacy", Repository: "*", Reason: "Quay upgrade to 3.17 scheduled; feature flag off until then", Expires: now.AddDate(0, 6, 0).Truncate(24 * time.Hour)},
			// A plain distribution registry and ghcr.io have no setting to
			// fix: the team records their tags and gates CI on overwrites.
			{Provider: "oci-demo", Repository: "*", Reason: demoNoSettingReason, Expires: now.AddDate(1, 0, 0).Truncate(24 * time.Hour)},
			{Provider: "ghcr-demo", Repository: "*", Reason: demoNoSettingReason, Expires: now.AddDate(1, 0, 0).Truncate(24 * time.Hour)},
			// Artifactory has no setting either: who can overwrite is a
			// permission, and immutag prints the change instead of making it.
			{Provider: "artifactory-demo", Repository: "*", Reason: demoNoSettingReason, Expires: now.AddDate(1, 0, 0).Truncate(24 * time.Hour)},
		},
	}
}

// demoNoSettingReason exempts the registries that have no tag-immutability
// setting: the ledger is their control.
const demoNoSettingReason = "no tag-immutability setting exists: tags are recorded (audit --record) and CI fails on an overwrite (--fail-on-overwrite)"

// RunDemo is what immutag demo runs: NewCmdDemo's default, exported for
// the end-to-end tests of other packages.
func RunDemo(ctx context.Context, opts *DemoOptions) error {
	user := opts.Deps
	out := user.IO.Out
	step := func(n int, title string) { fmt.Fprintf(out, "\n=== %d. %s\n\n", n, title) }

	tmp, err := os.MkdirTemp("", "immutag-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The emulators' variables (fake credentials, region), handed to the
	// adapters through Getenv: the process environment is left alone.
	env := map[string]string{}
	var demos []emulator.Demo
	defer func() {
		for _, d := range demos {
			_ = d.Close()
		}
	}()
	cfg := &config.Config{Version: config.CurrentVersion, Policy: demoPolicy(user.Now())}
	var kinds []string
	for _, fx := range catalog.Emulators() {
		d, err := fx.Start(ctx)
		if err != nil {
			return fmt.Errorf("start emulator: %w", err)
		}
		demos = append(demos, d)
		cfg.Providers = append(cfg.Providers, d.Provider())
		kinds = append(kinds, string(d.Kind()))
		for k, v := range d.Env() {
			env[k] = v
		}
	}
	if opts.Started != nil {
		opts.Started(maps.Clone(env))
	}
	if err := cfg.Validate(catalog.Kinds()); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	getenv := demoGetenv(env, user.Getenv)
	deps := Deps{
		IO: user.IO, Getenv: getenv, Now: user.Now, Logger: user.Logger,
		Config: func() (*config.Config, error) { return cfg, nil },
		// The demo keeps its tag ledger in its own temporary directory.
		Ledger: filepath.Join(tmp, "ledger.db"),
		BuildProviders: func(ctx context.Context, ps []config.Provider) ([]providers.Provider, error) {
			o := providerOptions(getenv, user.Logger(), user.Now)
			o.MutableTagsAllowed = cfg.Policy.MutableTagsAllowed
			// Hermetic: the SDK-based adapters take their configuration
			// from getenv alone, not from the process environment, the
			// user's shared config files or instance metadata.
			o.Hermetic = true
			return catalog.Build(ctx, ps, o)
		},
	}
	flags := ScanFlags{Format: "table", Concurrency: 8}

	fmt.Fprintf(out, "immutag demo: %d registry emulator(s) on loopback (%s); no network, no credentials.\n", len(demos), strings.Join(kinds, ", "))
	fmt.Fprintf(out, "policy: mutable_tags_allowed=[latest]; exemptions: sandbox/*, quay-demo legacy/*, oci-demo, ghcr-demo and artifactory-demo (no setting exists; the ledger watches them) (active), aws-demo data/etl (expired 2025-12-31)\n")

	step(1, "audit --record: which repositories let a tag be overwritten? (and every tag -> digest into the ledger)")
	if err := auditRun(ctx, &AuditOptions{Deps: deps, ScanFlags: flags, Record: true}); err != nil && ExitCode(err) != CodeIncomplete {
		return err
	}

	// Each registry is shown with two re-pushes: a release tag, which the
	// fix must make immutable, and latest, which the policy allows to move.
	release := func(d emulator.Demo) (scope, repo, tag string) {
		scope, repo, tag = d.OverwriteTarget()
		if tag == "latest" {
			tag = "v1.0.0"
		}
		return scope, repo, tag
	}
	push := func(d emulator.Demo, tag string) error {
		scope, repo, _ := release(d)
		err := d.PushTag(ctx, scope, repo, tag)
		fmt.Fprintf(out, "  %-18s push %s:%s again -> %s\n", d.Provider().Name, repo, tag, pushVerdict(err))
		return err
	}
	isAR := func(d emulator.Demo) bool { return d.Kind() == providers.KindArtifactRegistry }

	step(2, "push over existing tags before the fix")
	for _, d := range demos {
		_, _, rel := release(d)
		for _, tag := range []string{rel, "latest"} {
			if err := push(d, tag); err != nil {
				return fmt.Errorf("demo: %s: push before the fix: %w", d.Provider().Name, err)
			}
		}
	}

	step(3, "fix (dry run): the plan")
	if err := fixRun(ctx, &FixOptions{Deps: deps, ScanFlags: flags}); err != nil && !demoTolerated(err) {
		return err
	}

	step(4, "fix --apply --yes: write, journal, read back")
	journal := filepath.Join(tmp, "journal.jsonl")
	err = fixRun(ctx, &FixOptions{Deps: deps, ScanFlags: flags, Apply: true, Yes: true, Journal: journal})
	switch {
	case err != nil && !demoTolerated(err):
		return err
	case err != nil:
		fmt.Fprintf(out, "\n(exit %d: %v)\n", ExitCode(err), err)
	}
	if b, err := os.ReadFile(journal); err == nil {
		fmt.Fprintf(out, "\njournal: %d line(s), e.g.\n  %s\n", strings.Count(string(b), "\n"), firstLine(string(b)))
	}

	step(5, "push over the same tags after the fix")
	var broken []string
	var unguarded []emulator.Demo
	for _, d := range demos {
		_, _, rel := release(d)
		relErr, latestErr := push(d, rel), push(d, "latest")
		if ns, ok := d.(emulator.NoSetting); ok {
			// Nothing could be fixed there: the overwrites go through,
			// and the next recorded audit is what catches them.
			unguarded = append(unguarded, d)
			fmt.Fprintf(out, "  %-18s (%s; the ledger will report it, step 7)\n", d.Provider().Name, ns.NoSetting())
			continue
		}
		switch {
		case isAR(d):
			// Held back: Artifact Registry cannot keep latest mutable.
			if relErr != nil || latestErr != nil {
				broken = append(broken, d.Provider().Name+" (held back, yet a push was refused)")
			}
		case !errors.Is(relErr, emulator.ErrTagImmutable):
			broken = append(broken, d.Provider().Name+" (release re-push not refused)")
		case latestErr != nil:
			broken = append(broken, d.Provider().Name+" (latest re-push refused although the policy allows it)")
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("demo: the fix did not honour the policy on %s", strings.Join(broken, ", "))
	}

	var ar []emulator.Demo
	for _, d := range demos {
		if isAR(d) {
			ar = append(ar, d)
		}
	}
	if len(ar) > 0 {
		step(6, "Artifact Registry: accept that latest becomes immutable too")
		fmt.Fprintln(out, "Artifact Registry has one immutable-tags flag per repository; fix leaves it alone unless told otherwise.")
		arFlags := flags
		for _, d := range ar {
			arFlags.Providers = append(arFlags.Providers, d.Provider().Name)
		}
		if err := fixRun(ctx, &FixOptions{Deps: deps, ScanFlags: arFlags, Apply: true, Yes: true, Journal: journal, AcceptImmutableAllowed: true}); err != nil && ExitCode(err) != CodeIncomplete {
			return err
		}
		fmt.Fprintln(out)
		for _, d := range ar {
			_, _, rel := release(d)
			for _, tag := range []string{rel, "latest"} {
				if err := push(d, tag); !errors.Is(err, emulator.ErrTagImmutable) {
					return fmt.Errorf("demo: %s: %s re-push after the accepted fix was not refused: %v", d.Provider().Name, tag, err)
				}
			}
		}
	}

	step(7, "audit --record again")
	if err := auditRun(ctx, &AuditOptions{Deps: deps, ScanFlags: flags, FailOnDrift: true, Record: true}); err != nil {
		return fmt.Errorf("demo: the re-audit is not clean: %w", err)
	}

	step(8, "history: what did the tag point at before it was overwritten in step 2?")
	if err := demoHistory(ctx, deps, demos[0]); err != nil {
		return fmt.Errorf("demo: ask the ledger: %w", err)
	}
	if len(unguarded) > 0 {
		fmt.Fprintf(out, "\nWhere no setting exists, the tag was overwritten in steps 2 and 5; the ledger saw what each recorded audit found:\n")
	}
	for _, d := range unguarded {
		fmt.Fprintln(out)
		if err := demoHistory(ctx, deps, d); err != nil {
			return fmt.Errorf("demo: ask the ledger: %w", err)
		}
	}
	fmt.Fprintf(out, "\nEvery registry: what the tag overwritten in step 2 named before, and now:\n")
	if err := demoBeforeNow(ctx, deps, demos, func(d emulator.Demo) string { _, _, rel := release(d); return rel }); err != nil {
		return fmt.Errorf("demo: ask the ledger: %w", err)
	}
	fmt.Fprintf(out, "\nRegistries that keep their own tag history: what a tag named before the demo started, before it was overwritten:\n")
	if err := demoSeededHistory(ctx, deps, demos); err != nil {
		return fmt.Errorf("demo: ask the ledger: %w", err)
	}
	fmt.Fprintln(out, "\ndemo finished: no drift left, overwrites refused where a registry can refuse them, and every overwrite the recorded audits saw (before the fix, and on registries without a setting) is on record; latest re-pushes were accepted where the policy allows them. Try it by hand: see README.md.")
	return nil
}

// demoGetenv is the demo's environment: the emulators' variables, then the
// user's for anything else (NO_COLOR, TERM), except the cloud SDKs' own
// variables: the user's AWS_SESSION_TOKEN or AWS_REGION must not reach an
// emulator.
func demoGetenv(env map[string]string, user func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		for _, p := range []string{"AWS_", "AZURE_", "GOOGLE_"} {
			if strings.HasPrefix(k, p) {
				return ""
			}
		}
		return user(k)
	}
}

// demoTolerated is what a demo fix run may end with: an incomplete scan (a
// namespace without the feature) or changes held back with their reason.
func demoTolerated(err error) bool {
	return ExitCode(err) == CodeIncomplete || errors.Is(err, errHeldBack)
}

// demoHistory asks the ledger about the first demo's overwritten tag: its
// history, then the digest it named when step 1 recorded it.
func demoHistory(ctx context.Context, deps Deps, d emulator.Demo) error {
	_, repo, tag := d.OverwriteTarget()
	ref := d.Provider().Name + "/" + repo + ":" + tag
	fmt.Fprintf(deps.IO.Out, "$ immutag history %s\n", ref)
	if err := historyRun(ctx, &HistoryOptions{Deps: deps, Ref: ref, Format: "table"}); err != nil {
		return err
	}
	store, err := deps.openLedger(ctx, nil)
	if err != nil {
		return err
	}
	r, _ := ledger.ParseRef(ref)
	hs, err := store.History(ctx, r)
	store.Close()
	if err != nil {
		return err
	}
	if len(hs) != 1 || len(hs[0].Intervals) < 2 {
		return fmt.Errorf("the ledger does not show %s moving (history: %+v)", ref, hs)
	}
	before := hs[0].Intervals[0]
	at := before.LastSeen.Format(time.RFC3339Nano)
	fmt.Fprintf(deps.IO.Out, "\n$ immutag history %s --at %s\n", ref, at)
	return historyRun(ctx, &HistoryOptions{Deps: deps, Ref: ref, At: at, Format: "table"})
}

func pushVerdict(err error) string {
	switch {
	case err == nil:
		return "accepted (the old image is silently replaced)"
	case errors.Is(err, emulator.ErrTagImmutable):
		return "refused: " + err.Error()
	default:
		return "error: " + err.Error()
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
