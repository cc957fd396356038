package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/cli/configload"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

// parse runs cmd with args through its runF seam: flags and arguments are
// parsed and checked, nothing runs.
func parse(t *testing.T, cmd *cobra.Command, args ...string) {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("%s %s: %v", cmd.Name(), strings.Join(args, " "), err)
	}
}

// capture returns a runF that keeps the options it is given.
func capture[O any](got **O) func(context.Context, *O) error {
	return func(_ context.Context, o *O) error { *got = o; return nil }
}

// TestCommandFlagsParse: every command (lint and serve have their own
// TestLintFlags and TestServeFlags) parses its flags and arguments into
// its options; the runF seam receives them and nothing is run (no config
// is read: the test factory has none).
func TestCommandFlagsParse(t *testing.T) {
	t.Run("audit", func(t *testing.T) {
		var o *AuditOptions
		parse(t, NewCmdAudit(testFactory(t), capture(&o)), "--provider", "a,b", "--provider", "c", "-o", "json", "--output", "r.json",
			"--concurrency", "3", "-v", "--timeout", "5m", "--shard", "1/4", "--fail-on-drift", "--baseline", "main.json",
			"--record", "--fail-on-overwrite", "--iac", "infra,tf")
		if !slices.Equal(o.Providers, []string{"a", "b", "c"}) || o.Format != "json" || o.OutputFile != "r.json" || o.Concurrency != 3 ||
			!o.Verbose || o.Timeout != 5*time.Minute || o.Shard.Shard != "1/4" || !o.FailOnDrift || o.Baseline != "main.json" ||
			!o.Record || !o.FailOnOverwrite || !slices.Equal(o.IAC, []string{"infra", "tf"}) {
			t.Errorf("%+v", o)
		}
		// The dependencies are taken when the command runs (--ledger is a
		// global flag, parsed by then).
		if o.Config == nil || o.BuildProviders == nil || o.Logger == nil || o.Getenv == nil || o.Now == nil {
			t.Errorf("dependencies missing: %+v", o.Deps)
		}
	})
	t.Run("fix", func(t *testing.T) {
		var o *FixOptions
		f := testFactory(t)
		parse(t, NewCmdFix(f, capture(&o)), "--apply", "-y", "--creation-templates", "--accept-immutable-allowed-tags",
			"--iac", "infra", "--emit-patch", "p.diff", "--provider", "aws")
		if !o.Apply || !o.Yes || !o.CreationTemplates || !o.AcceptImmutableAllowed || !slices.Equal(o.IAC, []string{"infra"}) ||
			o.EmitPatch != "p.diff" || !slices.Equal(o.Providers, []string{"aws"}) || o.Timeout != DefaultRunTimeout {
			t.Errorf("%+v", o)
		}
		// The default journal is under XDG_STATE_HOME, resolved before runF.
		if want := defaultJournal(f.Getenv); o.Journal != want || !strings.HasSuffix(want, "journal.jsonl") {
			t.Errorf("journal %q, want %q", o.Journal, want)
		}
		parse(t, NewCmdFix(f, capture(&o)), "--journal", "j.jsonl")
		if o.Apply || o.Journal != "j.jsonl" {
			t.Errorf("%+v", o)
		}
	})
	t.Run("demo", func(t *testing.T) {
		var o *DemoOptions
		f := testFactory(t)
		var out bytes.Buffer
		f.IO.Out = &out
		parse(t, NewCmdDemo(f, capture(&o)))
		if o == nil || o.Started != nil || o.IO.Out != &out || o.Logger == nil {
			t.Errorf("%+v", o)
		}
	})
	t.Run("version", func(t *testing.T) {
		var o *VersionOptions
		f := testFactory(t)
		var out bytes.Buffer
		f.IO.Out = &out
		parse(t, NewCmdVersion(f, capture(&o)))
		if o == nil || o.IO.Out != &out || out.Len() != 0 {
			t.Errorf("%+v, printed %q", o, out.String())
		}
		// The real run writes to the streams of its options.
		var mine bytes.Buffer
		if err := versionRun(&VersionOptions{IO: IOStreams{Out: &mine}}); err != nil || !strings.HasPrefix(mine.String(), "immutag ") {
			t.Errorf("versionRun: %v %q", err, mine.String())
		}
	})
	t.Run("history", func(t *testing.T) {
		var o *HistoryOptions
		parse(t, NewCmdHistory(testFactory(t), capture(&o)), "team/app:v1", "--at", "2026-09-01 15:00", "-o", "csv")
		if o.Ref != "team/app:v1" || o.At != "2026-09-01 15:00" || o.Format != "csv" || o.Moved {
			t.Errorf("%+v", o)
		}
		parse(t, NewCmdHistory(testFactory(t), capture(&o)), "--moved", "--since", "90d")
		if !o.Moved || o.Since != "90d" || o.Ref != "" {
			t.Errorf("%+v", o)
		}
		parse(t, NewCmdHistory(testFactory(t), capture(&o)), "--digest", "sha256:abc")
		if o.Digest != "sha256:abc" {
			t.Errorf("%+v", o)
		}
	})
	t.Run("iac", func(t *testing.T) {
		var o *IACOptions
		f := testFactory(t)
		var out bytes.Buffer
		f.IO.Out = &out
		parse(t, NewCmdIAC(f, capture(&o)))
		if !slices.Equal(o.Paths, []string{"."}) || o.Format != "table" || o.Fix || o.DryRun {
			t.Errorf("defaults %+v", o)
		}
		// The dependencies come from the factory, for the run to use alone.
		if o.IO.Out != &out || o.Config == nil || !o.Now().Equal(f.Now()) {
			t.Errorf("dependencies %+v", o)
		}
		parse(t, NewCmdIAC(testFactory(t), capture(&o)), "infra", "tf", "-o", "json", "--output", "x.json", "--fail-on-findings", "--fix", "--dry-run")
		if !slices.Equal(o.Paths, []string{"infra", "tf"}) || o.Format != "json" || o.OutputFile != "x.json" || !o.FailOnFindings || !o.Fix || !o.DryRun {
			t.Errorf("%+v", o)
		}
	})
	t.Run("sandbox", func(t *testing.T) {
		var o *SandboxOptions
		parse(t, NewCmdSandbox(testFactory(t), capture(&o)), "--write-config", "s.yaml", "--seed", "200", "--latency", "20ms",
			"--error-rate", "0.1", "--throttle-rate", "0.2", "--retry-after", "2s", "--page-size", "5", "--faults-on", "quay,harbor",
			"--deny", "quay/acme", "--deny", "harbor/infra")
		if o.Listen != "127.0.0.1" || o.WriteConfig != "s.yaml" || o.Seed != 200 || o.Latency != 20*time.Millisecond || o.ErrorRate != 0.1 ||
			o.ThrottleRate != 0.2 || o.RetryAfter != 2*time.Second || o.PageSize != 5 || !slices.Equal(o.FaultKinds, []string{"quay", "harbor"}) ||
			!slices.Equal(o.Deny, []string{"quay/acme", "harbor/infra"}) {
			t.Errorf("%+v", o)
		}
	})
	t.Run("report render", func(t *testing.T) {
		var o *ReportRenderOptions
		f := testFactory(t)
		var out bytes.Buffer
		f.IO.Out = &out
		parse(t, NewCmdReportRender(f, capture(&o)), "r.json", "-o", "markdown", "--output", "r.md", "-v")
		if o.Input != "r.json" || o.Format != "markdown" || o.OutputFile != "r.md" || !o.Verbose || o.IO.Out != &out || o.Getenv == nil {
			t.Errorf("%+v", o)
		}
	})
	t.Run("report diff", func(t *testing.T) {
		var o *ReportDiffOptions
		parse(t, NewCmdReportDiff(testFactory(t), capture(&o)), "old.json", "new.json", "-o", "markdown", "--output", "d.md")
		if o.Old != "old.json" || o.New != "new.json" || o.Format != "markdown" || o.OutputFile != "d.md" {
			t.Errorf("%+v", o)
		}
	})
	t.Run("report merge", func(t *testing.T) {
		var o *ReportMergeOptions
		parse(t, NewCmdReportMerge(testFactory(t), capture(&o)), "a.json", "b.json", "-o", "json", "--output", "m.json", "-v", "--fail-on-drift")
		if !slices.Equal(o.Inputs, []string{"a.json", "b.json"}) || o.Format != "json" || o.OutputFile != "m.json" || !o.Verbose || !o.FailOnDrift {
			t.Errorf("%+v", o)
		}
	})
}

// TestCommandFlagsRefused: bad flag values are refused before runF.
func TestCommandFlagsRefused(t *testing.T) {
	never := func(t *testing.T) func(context.Context, *SandboxOptions) error {
		return func(context.Context, *SandboxOptions) error { t.Error("runF ran"); return nil }
	}
	for _, c := range []struct {
		cmd  *cobra.Command
		args []string
		want string
	}{
		{NewCmdFix(testFactory(t), func(context.Context, *FixOptions) error { t.Error("runF ran"); return nil }), []string{"--yes"}, "--yes only makes sense with --apply"},
		{NewCmdAudit(testFactory(t), func(context.Context, *AuditOptions) error { t.Error("runF ran"); return nil }), []string{"-o", "pdf"}, "pdf"},
		{NewCmdSandbox(testFactory(t), never(t)), []string{"--listen", "0.0.0.0"}, "loopback only"},
		{NewCmdIAC(testFactory(t), func(context.Context, *IACOptions) error { t.Error("runF ran"); return nil }), []string{"-o", "pdf"}, "unknown format"},
		{NewCmdReportDiff(testFactory(t), func(context.Context, *ReportDiffOptions) error { t.Error("runF ran"); return nil }), []string{"one.json"}, "two reports"},
	} {
		c.cmd.SetArgs(c.args)
		c.cmd.SetOut(io.Discard)
		c.cmd.SetErr(io.Discard)
		if err := c.cmd.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want an error with %q", c.cmd.Name(), c.args, err, c.want)
		}
	}
}

// TestRunFromOptions: a run function needs nothing but its options: iac
// against code in a directory, with a config function and clock of the
// test's own and no Factory.
func TestRunFromOptions(t *testing.T) {
	dir := writeWorkflows(t, map[string]string{"b.tf": iacMutable})
	var out, errOut bytes.Buffer
	opts := &IACOptions{
		IO:     IOStreams{Out: &out, ErrOut: &errOut},
		Config: func() (*config.Config, error) { return nil, configload.ErrNoConfig },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) },
		Paths:  []string{dir}, Format: "json", FailOnFindings: true,
	}
	err := iacRun(opts)
	if ExitCode(err) != CodeDrift || !strings.Contains(out.String(), `"address"`) {
		t.Fatalf("exit %d (%v), output %q", ExitCode(err), err, out.String())
	}
	var lintOut bytes.Buffer
	lo := &LintOptions{IO: IOStreams{Out: &lintOut, ErrOut: io.Discard}, Paths: []string{writeWorkflows(t, map[string]string{"a.yml": lintDirty})}, Format: "text", MutableTags: []string{"latest"}}
	if err := lintRun(lo); err != nil || !strings.Contains(lintOut.String(), "a.yml") {
		t.Fatalf("lint: %v, output %q", err, lintOut.String())
	}
}

// TestAuditFromDeps: audit runs from Deps built by hand, no Factory: a
// config and providers of the test's own, its streams and clock.
func TestAuditFromDeps(t *testing.T) {
	p := fake.New("a", providers.KindECR).Add("s1", fake.Repo{Name: "team/app", Immutability: imm(providers.ModeMutable)})
	cfg := &config.Config{Version: 1, SHA256: strings.Repeat("0", 64), Providers: []config.Provider{{Name: "a", Kind: providers.KindECR}}}
	var out, errOut bytes.Buffer
	deps := Deps{
		IO:     IOStreams{Out: &out, ErrOut: &errOut},
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) },
		Config: func() (*config.Config, error) { return cfg, nil },
		BuildProviders: func(context.Context, []config.Provider) ([]providers.Provider, error) {
			return []providers.Provider{p}, nil
		},
		Logger: func() *slog.Logger { return slog.New(slog.DiscardHandler) },
	}
	err := auditRun(t.Context(), &AuditOptions{Deps: deps, ScanFlags: ScanFlags{Format: "json", Concurrency: 1}, FailOnDrift: true})
	if ExitCode(err) != CodeDrift || !strings.Contains(out.String(), `"team/app"`) || !strings.Contains(out.String(), "2026-11-26T12:00:00Z") {
		t.Fatalf("exit %d (%v)\n%s", ExitCode(err), err, out.String())
	}
}
