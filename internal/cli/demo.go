package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// DemoOptions are the inputs of immutag demo.
type DemoOptions struct {
	Keep bool
}

// NewCmdDemo builds `immutag demo`.
func NewCmdDemo(f *Factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run audit -> fix plan -> fix apply -> re-audit on built-in emulators",
		Long: `Starts the built-in registry emulators on loopback, seeded with repositories
in every immutability mode each registry has, then runs the whole job:

  1. audit                 what is mutable, partial, exempt
  2. overwrite a tag       accepted: the repository is mutable
  3. fix (dry run)         the plan: which repository, from what to what, the API call
  4. fix --apply --yes     journaled writes, each read back to verify
  5. overwrite again       refused: the tag is immutable now (accepted where the
                           registry has no setting: oci, ghcr)
  6. audit --record        clean; the ledger reports the overwrites it saw
  7. history               what the overwritten tags named before

It needs no network and no credentials, and touches no real registry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return demoRun(cmd.Context(), f, opts)
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

func demoRun(ctx context.Context, f *Factory, _ *DemoOptions) error {
	out := f.IO.Out
	step := func(n int, title string) { fmt.Fprintf(out, "\n=== %d. %s\n\n", n, title) }

	tmp, err := os.MkdirTemp("", "immutag-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Keep the SDK default chains away from the user's real profiles.
	env := map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(tmp, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(tmp, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
		"AWS_SESSION_TOKEN":           "",
	}
	var demos []emulator.Demo
	defer func() {
		for _, d := range demos {
			_ = d.Close()
		}
	}()
	cfg := &config.Config{Version: config.CurrentVersion, Policy: demoPolicy(f.Now())}
	var kinds []string
	for _, start := range demoBackends {
		d, err := start(ctx)
		if err != nil {
			return fmt.Errorf("start emulator: %w", err)
		}
		demos = append(demos, d)
		cfg.Providers = append(cfg.Providers, d.Provider())
		kinds = append(kinds, d.Kind())
		for k, v := range d.Env() {
			env[k] = v
		}
	}
	// The cloud SDKs read their environment themselves, so the demo sets it
	// for this process only; it never leaves the process.
	for k, v := range env {
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
	}
	if err := cfg.Validate(catalog.Kinds()); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	df := NewFactory(f.IO)
	df.Getenv, df.Now = os.Getenv, f.Now
	df.LogLevel, df.LogFormat = f.LogLevel, f.LogFormat
	df.Config = func() (*config.Config, error) { return cfg, nil }
	// The demo keeps its tag ledger in its own temporary directory.
	df.Ledger = filepath.Join(tmp, "ledger.db")
	flags := ScanFlags{Format: "table", Concurrency: 8}

	fmt.Fprintf(out, "immutag demo: %d registry emulator(s) on loopback (%s); no network, no credentials.\n", len(demos), strings.Join(kinds, ", "))
	fmt.Fprintf(out, "policy: mutable_tags_allowed=[latest]; exemptions: sandbox/*, quay-demo legacy/*, oci-demo, ghcr-demo and artifactory-demo (no setting exists; the ledger watches them) (active), aws-demo data/etl (expired 2025-12-31)\n")

	step(1, "audit --record: which repositories let a tag be overwritten? (and every tag -> digest into the ledger)")
	if err := auditRun(ctx, df, &AuditOptions{ScanFlags: flags, Record: true}); err != nil && ExitCode(err) != CodeIncomplete {
		return err
	}

	step(2, "push over an existing tag before the fix")
	for _, d := range demos {
		scope, repo, tag := d.OverwriteTarget()
		err := d.PushTag(ctx, scope, repo, tag)
		fmt.Fprintf(out, "  %-18s push %s:%s again -> %s\n", d.Provider().Name, repo, tag, pushVerdict(err))
	}

	step(3, "fix (dry run): the plan")
	if err := fixRun(ctx, df, &FixOptions{ScanFlags: flags}); err != nil && ExitCode(err) != CodeIncomplete {
		return err
	}

	step(4, "fix --apply --yes: write, journal, read back")
	journal := filepath.Join(tmp, "journal.jsonl")
	if err := fixRun(ctx, df, &FixOptions{ScanFlags: flags, Apply: true, Yes: true, Journal: journal}); err != nil && ExitCode(err) != CodeIncomplete {
		return err
	}
	if b, err := os.ReadFile(journal); err == nil {
		fmt.Fprintf(out, "\njournal: %d line(s), e.g.\n  %s\n", strings.Count(string(b), "\n"), firstLine(string(b)))
	}

	step(5, "push over the same tag after the fix")
	refused, fixable := 0, 0
	var unguarded []emulator.Demo
	for _, d := range demos {
		scope, repo, tag := d.OverwriteTarget()
		err := d.PushTag(ctx, scope, repo, tag)
		if ns, ok := d.(emulator.NoSetting); ok {
			// Nothing could be fixed there: the overwrite goes through,
			// and the next recorded audit is what catches it.
			unguarded = append(unguarded, d)
			verdict := pushVerdict(err)
			if err == nil {
				verdict = "accepted: " + ns.NoSetting() + "; the ledger will report it (step 6)"
			}
			fmt.Fprintf(out, "  %-18s push %s:%s again -> %s\n", d.Provider().Name, repo, tag, verdict)
			continue
		}
		fixable++
		if errors.Is(err, emulator.ErrTagImmutable) {
			refused++
		}
		fmt.Fprintf(out, "  %-18s push %s:%s again -> %s\n", d.Provider().Name, repo, tag, pushVerdict(err))
	}

	step(6, "audit --record again")
	err = auditRun(ctx, df, &AuditOptions{ScanFlags: flags, FailOnDrift: true, Record: true})
	switch {
	case err != nil:
		return fmt.Errorf("demo: the re-audit is not clean: %w", err)
	case refused != fixable:
		return fmt.Errorf("demo: %d of %d overwrites were refused after the fix", refused, fixable)
	}

	step(7, "history: what did the tag point at before it was overwritten in step 2?")
	if err := demoHistory(ctx, df, demos[0]); err != nil {
		return fmt.Errorf("demo: ask the ledger: %w", err)
	}
	if len(unguarded) > 0 {
		fmt.Fprintf(out, "\nWhere no setting exists, the tag was overwritten in steps 2 and 5; the ledger saw what each recorded audit found:\n")
	}
	for _, d := range unguarded {
		fmt.Fprintln(out)
		if err := demoHistory(ctx, df, d); err != nil {
			return fmt.Errorf("demo: ask the ledger: %w", err)
		}
	}
	fmt.Fprintln(out, "\ndemo finished: no drift left, overwrites refused where a registry can refuse them, and every overwrite the recorded audits saw (before the fix, and on registries without a setting) is on record. Try it by hand: see README.md.")
	return nil
}

// demoHistory asks the ledger about the first demo's overwritten tag: its
// history, then the digest it named when step 1 recorded it.
func demoHistory(ctx context.Context, f *Factory, d emulator.Demo) error {
	_, repo, tag := d.OverwriteTarget()
	ref := d.Provider().Name + "/" + repo + ":" + tag
	fmt.Fprintf(f.IO.Out, "$ immutag history %s\n", ref)
	if err := historyRun(ctx, f, &HistoryOptions{Ref: ref, Format: "table"}); err != nil {
		return err
	}
	store, err := f.openLedger(ctx, nil)
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
	fmt.Fprintf(f.IO.Out, "\n$ immutag history %s --at %s\n", ref, at)
	return historyRun(ctx, f, &HistoryOptions{Ref: ref, At: at, Format: "table"})
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
