package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/fileout"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// SandboxOptions are the inputs of immutag sandbox.
type SandboxOptions struct {
	// Deps are the run's dependencies, set from the Factory when the
	// command runs.
	Deps

	Listen       string
	WriteConfig  string
	Seed         int
	Latency      time.Duration
	ErrorRate    float64
	ThrottleRate float64
	RetryAfter   time.Duration
	PageSize     int
	FaultKinds   []string
	Deny         []string
	// ready, when set, is called once the emulators serve and the config
	// is written (tests).
	ready func(configFile string, env map[string]string)
}

// NewCmdSandbox builds `immutag sandbox`. runF, when set, replaces the run
// function (tests check the parsed options with it).
func NewCmdSandbox(f *Factory, runF func(context.Context, *SandboxOptions) error) *cobra.Command {
	opts := &SandboxOptions{}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve every registry's emulator on loopback for hands-on use",
		Long: `Starts in-memory emulators of every registry kind on 127.0.0.1, seeded with
repositories in every immutability mode, writes a ready config file (0600) and
prints the environment variables it names, then serves until interrupted
(Ctrl-C). Every immutag command works against it by hand; nothing leaves the
machine. Kinds: ` + strings.Join(catalog.Kinds().Names(), ", ") + `.

The credentials are fake values the emulators accept; they are printed as
'export' lines and never written to the config file.

--seed N fills every registry up to N repositories (a generated, realistic
mix of modes). Fault injection applies to every emulator, or to those named
by --faults-on: --latency per call, --error-rate (server errors),
--throttle-rate (429 or the registry's throttling error, with Retry-After),
--page-size (smaller list pages). --deny PROVIDER/SCOPE makes one scope
answer access denied, e.g. aws-demo/123456789012/eu-west-1 or quay/acme.`,
		Example: `  immutag sandbox --write-config sandbox.yaml
  immutag sandbox --seed 2000 --latency 20ms --write-config big.yaml
  immutag sandbox --throttle-rate 0.1 --faults-on dockerhub,quay --deny harbor/infra`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			opts.Deps = f.Deps()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return sandboxRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "127.0.0.1", "address the emulators listen on (loopback only: they accept fake credentials)")
	fl.StringVar(&opts.WriteConfig, "write-config", "", "write the config here (default: a temporary file, removed on exit)")
	fl.IntVar(&opts.Seed, "seed", 0, "fill every registry up to N repositories")
	fl.DurationVar(&opts.Latency, "latency", 0, "latency added to every API call")
	fl.Float64Var(&opts.ErrorRate, "error-rate", 0, "share of API calls answered with a server error (0..1)")
	fl.Float64Var(&opts.ThrottleRate, "throttle-rate", 0, "share of API calls answered as throttled with Retry-After (0..1)")
	fl.DurationVar(&opts.RetryAfter, "retry-after", time.Second, "Retry-After advertised on throttled answers")
	fl.IntVar(&opts.PageSize, "page-size", 0, "cap list pages at N items (0: each registry's own page size)")
	fl.StringSliceVar(&opts.FaultKinds, "faults-on", nil, "apply the faults only to these kinds ("+strings.Join(catalog.Kinds().Names(), ", ")+")")
	fl.StringArrayVar(&opts.Deny, "deny", nil, "answer access denied for PROVIDER/SCOPE (repeatable; provider name or kind)")
	return cmd
}

func (o *SandboxOptions) validate() error {
	host := o.Listen
	if h, _, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("--listen %q: give a host only; the emulators pick free ports (listed when they start), e.g. --listen %s", o.Listen, h)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--listen %q: the sandbox serves loopback only (127.0.0.1), since its emulators accept fake credentials", o.Listen)
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return fmt.Errorf("--listen %q: the emulators listen on 127.0.0.1 (IPv4 loopback)", o.Listen)
	}
	switch {
	case o.Seed < 0 || o.Seed > sandbox.MaxSeed:
		return fmt.Errorf("--seed %d: want 0..%d", o.Seed, sandbox.MaxSeed)
	case o.Latency < 0 || o.Latency > time.Minute:
		return fmt.Errorf("--latency %s: want 0..1m", o.Latency)
	case o.ErrorRate < 0 || o.ErrorRate > 1:
		return fmt.Errorf("--error-rate %g: want 0..1", o.ErrorRate)
	case o.ThrottleRate < 0 || o.ThrottleRate > 1:
		return fmt.Errorf("--throttle-rate %g: want 0..1", o.ThrottleRate)
	case o.RetryAfter < 0:
		return fmt.Errorf("--retry-after %s: must not be negative", o.RetryAfter)
	case o.PageSize < 0:
		return fmt.Errorf("--page-size %d: must not be negative", o.PageSize)
	}
	for _, k := range o.FaultKinds {
		if names := catalog.Kinds().Names(); !slices.Contains(names, k) {
			return fmt.Errorf("--faults-on %q: want one of %s", k, strings.Join(names, ", "))
		}
	}
	for _, d := range o.Deny {
		if _, err := sandbox.ParseDeny(d); err != nil {
			return fmt.Errorf("--deny: %w", err)
		}
	}
	return nil
}

func (o *SandboxOptions) faults() emulator.Faults {
	return emulator.Faults{Latency: o.Latency, ErrorRate: o.ErrorRate, ThrottleRate: o.ThrottleRate,
		RetryAfter: o.RetryAfter, PageSize: o.PageSize, Seed: uint64(time.Now().UnixNano())}
}

func sandboxRun(ctx context.Context, opts *SandboxOptions) error {
	d := opts.Deps
	out := d.IO.Out
	so := sandbox.Options{Emulators: catalog.Emulators(), Seed: opts.Seed, Faults: opts.faults()}
	for _, k := range opts.FaultKinds {
		so.FaultKinds = append(so.FaultKinds, providers.Kind(k))
	}
	for _, d := range opts.Deny {
		dd, _ := sandbox.ParseDeny(d)
		so.Deny = append(so.Deny, dd)
	}
	if opts.Seed > 5000 {
		fmt.Fprintf(d.IO.ErrOut, "seeding %d repositories per registry...\n", opts.Seed)
	}
	sb, err := sandbox.Start(ctx, so)
	if err != nil {
		return err
	}
	defer sb.Close()

	path := opts.WriteConfig
	if path == "" {
		dir, err := os.MkdirTemp("", "immutag-sandbox-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "immutag.yaml")
	}
	cfg := sb.Config(d.Now())
	if err := cfg.Validate(catalog.Kinds()); err != nil {
		return fmt.Errorf("sandbox config: %w", err)
	}
	if err := writeSandboxConfig(path, cfg); err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	env := sb.Env()

	fmt.Fprintf(out, "immutag sandbox: %d registry emulators on %s\n\n", len(sb.Endpoints()), opts.Listen)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, ep := range sb.Endpoints() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ep.Provider, ep.Kind, ep.URL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if opts.Seed > 0 {
		fmt.Fprintf(out, "\nestate: up to %d repositories per registry (demo repositories plus a generated mix of modes)\n", opts.Seed)
	}
	fmt.Fprintf(out, "faults: %s\n", describeFaults(so.Faults, opts.FaultKinds))
	if len(so.Deny) > 0 {
		ds := make([]string, 0, len(so.Deny))
		for _, d := range so.Deny {
			ds = append(ds, d.String())
		}
		fmt.Fprintf(out, "denied scopes: %s\n", strings.Join(ds, ", "))
	}
	fmt.Fprintf(out, "\nconfig written to %s (0600; credentials are environment variable names only)\n", abs)
	if opts.WriteConfig == "" {
		fmt.Fprintln(out, "(a temporary file, removed when the sandbox stops: use --write-config to keep it)")
	}
	fmt.Fprintln(out, "\nIn another shell, export the emulators' fake credentials:")
	fmt.Fprintln(out)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "export %s=%s\n", k, shellQuote(env[k]))
	}
	fmt.Fprintf(out, "\nthen try:\n\n  immutag audit --config %[1]s\n  immutag fix --config %[1]s\n  immutag fix --config %[1]s --apply --yes --accept-immutable-allowed-tags\n  immutag audit --config %[1]s --fail-on-drift\n", shellQuote(abs))
	fmt.Fprintln(out, "\nserving until interrupted (Ctrl-C)")
	if opts.ready != nil {
		opts.ready(abs, env)
	}
	<-ctx.Done()
	fmt.Fprintln(d.IO.ErrOut, "sandbox stopped")
	return nil
}

func describeFaults(fl emulator.Faults, kinds []string) string {
	var parts []string
	if fl.Latency > 0 {
		parts = append(parts, "latency "+fl.Latency.String())
	}
	if fl.ErrorRate > 0 {
		parts = append(parts, fmt.Sprintf("error rate %g", fl.ErrorRate))
	}
	if fl.ThrottleRate > 0 {
		parts = append(parts, fmt.Sprintf("throttle rate %g (Retry-After %s)", fl.ThrottleRate, fl.RetryAfter))
	}
	if fl.PageSize > 0 {
		parts = append(parts, fmt.Sprintf("page size %d", fl.PageSize))
	}
	if len(parts) == 0 {
		return "none"
	}
	on := "every emulator"
	if len(kinds) > 0 {
		on = strings.Join(kinds, ", ")
	}
	return strings.Join(parts, ", ") + " on " + on
}

// writeSandboxConfig writes cfg as YAML, 0600, through a temporary file
// renamed into place.
func writeSandboxConfig(path string, cfg *config.Config) error {
	body, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("--write-config %s: %w", path, err)
	}
	head := "# Written by `immutag sandbox`: every provider points at a local emulator.\n" +
		"# credentials.*_env name environment variables; the sandbox prints their (fake) values.\n"
	if err := fileout.Write(path, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, head+string(body))
		return err
	}); err != nil {
		return fmt.Errorf("--write-config %w", err)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
