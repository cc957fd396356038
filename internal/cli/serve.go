package cli

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	acrp "github.com/immutag/immutag/internal/providers/acr"
	"github.com/immutag/immutag/internal/serve"
)

// ServeOptions are the inputs of immutag serve.
type ServeOptions struct {
	// Deps are the run's dependencies, set from the Factory when the
	// command runs.
	Deps

	Providers        []string
	Concurrency      int
	Interval         time.Duration
	Schedule         string
	Jitter           time.Duration
	ReportsDir       string
	Keep             int
	Enforce          bool
	Journal          string
	Listen           string
	WebhookSecretEnv string
	ReportTokenEnv   string
	Timeout          time.Duration
	reportToken      string
	ShutdownTimeout  time.Duration
	LeaderElection   bool
	Record           bool

	schedule serve.Schedule
	secret   string
}

// minInterval keeps a typo such as --interval 1s from hammering registry APIs.
const minInterval = 10 * time.Second

// NewCmdServe builds `immutag serve`. runF, when set, replaces the run
// function (tests check the parsed options with it).
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Scan on a schedule, expose metrics, and keep tags immutable (--enforce, ACR webhook)",
		Long: `Runs as a service. Scans every configured provider at start and then on a
schedule (--interval, or --schedule with a cron expression), exactly as
'immutag audit' does, and keeps the last --keep JSON reports in --reports-dir.

HTTP endpoints on --listen:
  /metrics         Prometheus metrics (repositories by provider and status, scan
                   duration and age, scan errors, fixes, ACR tags locked, API calls,
                   immutag_tag_overwrites_total with --record)
  /healthz         the process is up
  /readyz          the first scan has finished
  /report/latest   the newest JSON report
  /webhooks/acr    ACR push webhook (with --webhook-secret-env): locks the pushed tag

--enforce applies the fixes after each scan under the same rules as
'immutag fix --apply': journaled, read back, only ever more immutable; exempt
and unreadable repositories are never changed. For ACR, where new tags start
unlocked, that sweeps the tags pushed since the previous scan; the webhook
narrows the window to about a second.

The webhook is authenticated by a shared secret sent by ACR as the custom
header X-Immutag-Webhook-Secret; its value is read from the environment
variable --webhook-secret-env names. Pushes to registries not in the config are
ignored, pushes to exempt repositories too.

On SIGTERM or SIGINT nothing new starts; writes already running get
--shutdown-timeout to finish and be journaled. Exit code 0 after a clean stop.

--record records every tag -> digest of each scan in the tag ledger (see
'immutag audit --help' and 'immutag history'); several replicas share one
PostgreSQL ledger (ledger.dsn_env or --ledger).`,
		Example: `  immutag serve --interval 1h
  immutag serve --interval 1h --record   # and keep the tag ledger
  immutag serve --schedule "0 */6 * * *" --jitter 10m --reports-dir /var/lib/immutag/reports
  IMMUTAG_WEBHOOK_SECRET=... immutag serve --enforce --listen :9100 --webhook-secret-env IMMUTAG_WEBHOOK_SECRET
  az acr webhook create -r myreg -n immutag --actions push \
      --uri https://immutag.example.com/webhooks/acr --headers X-Immutag-Webhook-Secret=...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Deps = f.Deps()
			if err := opts.validate(); err != nil {
				return err
			}
			if opts.Ledger != "" && !opts.Record && !opts.LeaderElection {
				return errors.New("--ledger goes with --record or --leader-election: without them serve does not use the ledger")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.Var(&nameList{p: &opts.Providers}, "provider", "only these configured providers: names or shell patterns such as 'aws-*' (repeatable or comma-separated)")
	fl.IntVar(&opts.Concurrency, "concurrency", audit.DefaultConcurrency, "scopes listed at once, and changes applied at once")
	fl.DurationVar(&opts.Interval, "interval", time.Hour, "time between scans")
	fl.StringVar(&opts.Schedule, "schedule", "", `cron expression instead of --interval (5 fields or @daily; local time unless prefixed "CRON_TZ=Zone ")`)
	fl.DurationVar(&opts.Jitter, "jitter", 0, "delay each scheduled scan by a random duration up to this (spreads API load)")
	fl.StringVar(&opts.ReportsDir, "reports-dir", "", "directory for the JSON report of every scan (default $XDG_STATE_HOME/immutag/reports)")
	fl.IntVar(&opts.Keep, "keep", serve.DefaultKeep, "reports kept in --reports-dir")
	fl.BoolVar(&opts.Enforce, "enforce", false, "after each scan, fix drifting repositories (as fix --apply --yes)")
	fl.BoolVar(&opts.Record, "record", false, "record every tag -> digest in the ledger on each scan (see immutag history); overwrites count in immutag_tag_overwrites_total")
	fl.StringVar(&opts.Journal, "journal", "", "append-only JSON-lines record of every write (default $XDG_STATE_HOME/immutag/journal.jsonl)")
	fl.StringVar(&opts.Listen, "listen", serve.DefaultListen, "HTTP listen address for metrics, probes, report and webhook")
	fl.DurationVar(&opts.Timeout, "timeout", DefaultRunTimeout, "stop each scan (and its enforcement pass) after this long; 0 = no limit")
	fl.StringVar(&opts.ReportTokenEnv, "report-token-env", "", "environment variable holding the bearer token /report/latest requires; without it /report/latest is off when listening beyond loopback")
	fl.StringVar(&opts.WebhookSecretEnv, "webhook-secret-env", "", "environment variable holding the ACR webhook secret; enables /webhooks/acr")
	fl.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", serve.DefaultShutdownTimeout, "on SIGTERM, how long running writes may take to finish")
	fl.BoolVar(&opts.LeaderElection, "leader-election", false, "several replicas: only the one holding a lease in the PostgreSQL ledger (ledger.dsn_env or --ledger) enforces and locks webhook tags")
	cmd.MarkFlagsMutuallyExclusive("interval", "schedule")
	return cmd
}

func (o *ServeOptions) validate() error {
	if o.Concurrency < 1 || o.Concurrency > 256 {
		return fmt.Errorf("--concurrency %d: want 1..256", o.Concurrency)
	}
	if o.Jitter < 0 {
		return fmt.Errorf("--jitter %s: must not be negative", o.Jitter)
	}
	var period time.Duration
	if o.Schedule != "" {
		s, err := serve.ParseCron(o.Schedule)
		if err != nil {
			return fmt.Errorf("--schedule: %w", err)
		}
		o.schedule = s
		period = serve.MinGap(s, time.Now(), 50)
	} else {
		if o.Interval < minInterval {
			return fmt.Errorf("--interval %s: want at least %s", o.Interval, minInterval)
		}
		o.schedule = serve.Every(o.Interval)
		period = o.Interval
	}
	if o.Jitter > 0 && period > 0 && o.Jitter >= period {
		return fmt.Errorf("--jitter %s: must be shorter than the time between scans (%s)", o.Jitter, period)
	}
	if o.Keep < 1 || o.Keep > 100000 {
		return fmt.Errorf("--keep %d: want 1..100000", o.Keep)
	}
	if o.ShutdownTimeout <= 0 {
		return fmt.Errorf("--shutdown-timeout %s: must be positive", o.ShutdownTimeout)
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port or :port: %w", o.Listen, err)
	}
	if o.ReportTokenEnv != "" {
		o.reportToken = o.Getenv(o.ReportTokenEnv)
		if len(o.reportToken) < 16 {
			return fmt.Errorf("--report-token-env %s: the environment variable is unset or shorter than 16 characters", o.ReportTokenEnv)
		}
		redact.Add(o.reportToken)
	}
	if o.WebhookSecretEnv != "" {
		o.secret = o.Getenv(o.WebhookSecretEnv)
		redact.Add(o.secret)
		if o.secret == "" {
			return fmt.Errorf("--webhook-secret-env %s: the environment variable is empty or not set", o.WebhookSecretEnv)
		}
	}
	if o.ReportsDir == "" {
		o.ReportsDir = defaultStateDir(o.Getenv, "reports")
	}
	if o.Journal == "" {
		o.Journal = defaultJournal(o.Getenv)
	}
	return nil
}

// defaultStateDir is $XDG_STATE_HOME/immutag/name, like the journal.
func defaultStateDir(getenv func(string) string, name string) string {
	return filepath.Join(filepath.Dir(defaultJournal(getenv)), name)
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	d := opts.Deps
	cfg, provs, err := loadProviders(ctx, d, opts.Providers)
	if err != nil {
		return err
	}
	log := d.Logger()
	if len(opts.secret) > 0 && len(opts.secret) < 16 {
		log.Warn("the webhook secret is short; use at least 32 random characters", "env", opts.WebhookSecretEnv)
	}
	// Registries found through subscriptions are learnt from each scan.
	acr, hasACR := map[string]string{}, false
	selected, _ := cfg.Select(opts.Providers)
	for _, p := range selected {
		if p.Kind != providers.KindACR {
			continue
		}
		hasACR = true
		set, err := config.SettingsOf[acrp.Settings](p)
		if err != nil {
			return err
		}
		for _, r := range set.Registries {
			if n := serve.NormalizeLogin(r); n != "" {
				acr[n] = p.Name
			}
		}
	}
	if opts.secret != "" && !hasACR {
		return errors.New("--webhook-secret-env: no acr provider is configured, the webhook would ignore every event")
	}
	var dryRun *bool
	if opts.Enforce {
		dry := false
		dryRun = &dry
	}
	var lead serve.Leader
	if opts.LeaderElection {
		e, err := startElection(ctx, d, cfg)
		if err != nil {
			return err
		}
		lead = e
		if !opts.Enforce && opts.secret == "" {
			log.Warn("--leader-election without --enforce or --webhook-secret-env: this service makes no writes, so leadership changes nothing")
		}
	}
	svc, err := serve.New(serve.Options{
		Leader:    lead,
		Providers: provs,
		Scan: func(ctx context.Context, provs []providers.Provider, plan bool) (*audit.Scan, error) {
			res, err := runEngine(ctx, d, cfg, provs, opts.Concurrency, scanMode{command: "serve", plan: plan, dryRun: dryRun, record: opts.Record}, nil)
			if err != nil {
				return nil, err
			}
			return res.scan, nil
		},
		Policy:          cfg.Policy,
		Schedule:        opts.schedule,
		Jitter:          opts.Jitter,
		ReportsDir:      opts.ReportsDir,
		Keep:            opts.Keep,
		Enforce:         opts.Enforce,
		Journal:         opts.Journal,
		Concurrency:     opts.Concurrency,
		Listen:          opts.Listen,
		WebhookSecret:   opts.secret,
		ReportToken:     opts.reportToken,
		ScanTimeout:     opts.Timeout,
		ACRRegistries:   acr,
		ShutdownTimeout: opts.ShutdownTimeout,
		Log:             log,
		Now:             d.Now,
		Version:         version(),
	})
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
