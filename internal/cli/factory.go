// Package cli holds immutag's cobra commands. It is the only package (with
// its configload child) that knows about cobra and viper; everything else
// receives typed values.
package cli

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/immutag/immutag/internal/cli/configload"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

// IOStreams are the command's standard streams and what we know about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Terminal flags decide defaults: table output, colours, prompts, progress.
	StdinTTY, StdoutTTY, StderrTTY bool
}

// SystemIO returns the process streams.
func SystemIO() IOStreams {
	return IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		StderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Factory holds lazily built dependencies, so --help and version never read
// config or credentials.
type Factory struct {
	IO     IOStreams
	Getenv func(string) string
	Now    func() time.Time

	// Set from global flags before a command runs.
	ConfigFile string
	LogLevel   string
	LogFormat  string
	// Ledger is --ledger: the tag history database (path, sqlite: or postgres:// DSN).
	Ledger string

	// Config loads the configuration (memoised). Tests and the demo replace it.
	Config func() (*config.Config, error)
	// BuildProviders turns config entries into adapters. Tests replace it.
	BuildProviders func(ctx context.Context, ps []config.Provider) ([]providers.Provider, error)

	once   sync.Once
	logger *slog.Logger
}

// NewFactory returns a factory wired to the real process environment.
func NewFactory(io IOStreams) *Factory {
	f := &Factory{IO: io, Getenv: os.Getenv, Now: time.Now}
	f.Config = f.loadConfigOnce()
	f.BuildProviders = func(ctx context.Context, ps []config.Provider) ([]providers.Provider, error) {
		o := f.ProviderOptions()
		if cfg, err := f.Config(); err == nil && cfg != nil {
			o.MutableTagsAllowed = cfg.Policy.MutableTagsAllowed
		}
		return catalog.Build(ctx, ps, o)
	}
	return f
}

func (f *Factory) loadConfigOnce() func() (*config.Config, error) {
	var (
		once sync.Once
		cfg  *config.Config
		err  error
	)
	return func() (*config.Config, error) {
		once.Do(func() {
			cfg, err = configload.Load(configload.Options{File: f.ConfigFile, Getenv: f.Getenv})
			if err == nil && cfg != nil && cfg.File != "" {
				if w := cfg.PermissionWarning(); w != "" {
					f.Logger().Warn(w)
				}
				if len(cfg.Overrides) > 0 {
					// Said out loud: the policy run is not the one the file shows.
					f.Logger().Warn("environment overrides replace config values", "file", cfg.File,
						"keys", strings.Join(cfg.Overrides, ","), "config_sha256", "covers the file and the overrides")
				}
			}
		})
		return cfg, err
	}
}

// Deps are the dependencies of the commands that read the config, the
// registries or the ledger (audit, fix, serve, history, sandbox), carried in
// their options. The constructors take them from the Factory when the
// command runs, after the global flags are parsed; tests build them as they
// need.
type Deps struct {
	IO             IOStreams
	Getenv         func(string) string
	Now            func() time.Time
	Config         func() (*config.Config, error)
	BuildProviders func(ctx context.Context, ps []config.Provider) ([]providers.Provider, error)
	Logger         func() *slog.Logger
	// Ledger is --ledger.
	Ledger string
}

// Deps returns the factory's dependencies as they are now.
func (f *Factory) Deps() Deps {
	return Deps{IO: f.IO, Getenv: f.Getenv, Now: f.Now, Config: f.Config, BuildProviders: f.BuildProviders, Logger: f.Logger, Ledger: f.Ledger}
}

// sdkSecretEnv are the variables the cloud SDKs' default chains read
// secrets from: registered with the redactor so that an SDK error echoing
// one is masked like the config's own credentials.
var sdkSecretEnv = []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "AZURE_PASSWORD", "AZURE_CLIENT_CERTIFICATE_PASSWORD"}

// ProviderOptions are the shared adapter dependencies.
func (f *Factory) ProviderOptions() providers.Options {
	return providerOptions(f.Getenv, f.Logger(), f.Now)
}

func providerOptions(getenv func(string) string, log *slog.Logger, now func() time.Time) providers.Options {
	for _, n := range sdkSecretEnv {
		redact.Add(getenv(n))
	}
	return providers.Options{Logger: log, Getenv: getenv, Now: now}
}

// Logger returns the stderr logger configured by --log-level and --log-format.
// Attributes whose names suggest a secret are redacted as a last line of
// defence; adapters must not log secrets in the first place.
func (f *Factory) Logger() *slog.Logger {
	f.once.Do(func() {
		level := slog.LevelWarn
		switch strings.ToLower(f.LogLevel) {
		case "debug":
			level = slog.LevelDebug
		case "info":
			level = slog.LevelInfo
		case "error":
			level = slog.LevelError
		}
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
		var h slog.Handler
		if strings.ToLower(f.LogFormat) == "json" {
			h = slog.NewJSONHandler(f.IO.ErrOut, opts)
		} else {
			h = slog.NewTextHandler(f.IO.ErrOut, opts)
		}
		// One redactor for the whole program: every message and attribute
		// value is scrubbed of the secrets immutag knows and of
		// credential-shaped text a server echoed.
		f.logger = slog.New(redact.Handler(h))
	})
	return f.logger
}

var secretAttr = []string{"authorization", "password", "secret", "token", "credential", "cookie", "api_key", "apikey"}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretAttr {
		if strings.Contains(k, s) && !strings.HasSuffix(k, "_env") {
			return slog.String(a.Key, "[REDACTED]")
		}
	}
	return a
}

func validateLogFlags(level, format string) error {
	switch strings.ToLower(level) {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "", "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", format)
	}
	return nil
}
