package cli

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/immutag/immutag/internal/report"
	"github.com/spf13/cobra"
)

// NewRootCmd builds the immutag command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "immutag",
		Short: "Audit and enforce container image tag immutability across registries",
		Long: `immutag lists every repository in Amazon ECR, Google Artifact Registry, Azure
Container Registry, Docker Hub, Quay, Harbor, GitLab, Nexus, Artifactory,
GitHub Container Registry and any OCI distribution registry, says which ones let
a release tag be overwritten, fixes them, and keeps them fixed.

A mutable tag means nobody can say which image ran last Tuesday, a rollback can
pull the same bad image, and anyone with push access can silently replace a
release. immutag turns that into a report an auditor accepts and a CI gate.

Exit codes: 0 clean, 1 error (bad config, cannot run, a fix failed or held
back), 2 scan incomplete (some scope or repository could not be read), 3 drift
found with --fail-on-drift (or an overwritten tag with audit --record
--fail-on-overwrite, or findings with lint/iac --fail-on-findings),
130 interrupted (Ctrl-C or SIGTERM).`,
		Example: `  immutag demo                         # everything on built-in emulators, no credentials
  immutag audit --config immutag.yaml  # report on every configured registry
  immutag audit -o json --output report.json --fail-on-drift
  immutag fix                          # show the plan (changes nothing)
  immutag fix --apply --yes            # apply it, journaled and verified`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return validateLogFlags(f.LogLevel, f.LogFormat)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.ConfigFile, "config", "", "config file (default: $IMMUTAG_CONFIG, ./immutag.yaml, then $XDG_CONFIG_HOME/immutag/config.yaml)")
	pf.StringVar(&f.LogLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	pf.StringVar(&f.LogFormat, "log-format", "text", "log format on stderr: text or json")
	pf.StringVar(&f.Ledger, "ledger", "", "tag history database: a SQLite path, sqlite:PATH or postgres://... without a password (default: config ledger, else $XDG_STATE_HOME/immutag/ledger.db)")

	root.AddCommand(NewCmdAudit(f, nil), NewCmdFix(f, nil), NewCmdDemo(f, nil), NewCmdVersion(f, nil),
		NewCmdReport(f), NewCmdServe(f, nil), NewCmdLint(f, nil), NewCmdSandbox(f, nil),
		NewCmdIAC(f, nil), NewCmdHistory(f, nil))
	// immutag --version, like immutag version.
	root.Version = version()
	root.SetVersionTemplate(fmt.Sprintf("immutag %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH))
	registerCompletions(root, f)
	return root
}

// registerCompletions offers values for -o and --provider wherever a
// command has them: the report formats, and the provider names of the
// config (read from the file only; no credentials, no network).
func registerCompletions(c *cobra.Command, f *Factory) {
	for _, sub := range c.Commands() {
		registerCompletions(sub, f)
	}
	if fl := c.Flags().Lookup("output-format"); fl != nil && strings.Contains(fl.Usage, report.Formats[0]) {
		_ = c.RegisterFlagCompletionFunc("output-format", cobra.FixedCompletions(report.Formats, cobra.ShellCompDirectiveNoFileComp))
	}
	if c.Flags().Lookup("provider") != nil {
		_ = c.RegisterFlagCompletionFunc("provider", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			cfg, err := f.Config()
			if err != nil || cfg == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			names := make([]string, 0, len(cfg.Providers))
			for _, p := range cfg.Providers {
				names = append(names, p.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		})
	}
}
