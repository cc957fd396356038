// Package config defines immutag's typed, versioned configuration and its
// validation. Errors name the file and the key path (providers[1].kind) so a
// user can find the mistake without reading code.
package config

import (
	"time"

	"github.com/immutag/immutag/internal/providers"

	"go.yaml.in/yaml/v3"
)

// CurrentVersion is the only config version this build understands.
const CurrentVersion = 1

// Config is the whole decoded configuration (contract keys: docs/architecture.md and configs/config.schema.json).
type Config struct {
	Version   int        `mapstructure:"version" yaml:"version"`
	Providers []Provider `mapstructure:"providers" yaml:"providers"`
	Policy    Policy     `mapstructure:"policy" yaml:"policy"`
	Ledger    Ledger     `mapstructure:"ledger" yaml:"ledger,omitempty"`

	// File is the path the config was read from ("" when built in code).
	File string `mapstructure:"-" yaml:"-"`
	// SHA256 is the hex digest of the file's bytes, for the report; with
	// environment overrides, of the bytes followed by each override
	// (OverrideDigest), so two runs with one digest ran one policy.
	SHA256 string `mapstructure:"-" yaml:"-"`
	// Overrides are the keys environment overrides replaced, sorted.
	Overrides []string `mapstructure:"-" yaml:"-"`

	// namesCredentials is whether the file as written gives a *_env key a
	// value (PermissionWarning).
	namesCredentials bool
}

// Provider configures one registry instance.
type Provider struct {
	Name        string         `mapstructure:"name" yaml:"name"`
	Kind        providers.Kind `mapstructure:"kind" yaml:"kind"`
	Endpoint    string         `mapstructure:"endpoint" yaml:"endpoint,omitempty"`
	Credentials Credentials    `mapstructure:"credentials" yaml:"credentials,omitempty"`
	TLS         TLS            `mapstructure:"tls" yaml:"tls,omitempty"`
	Rate        Rate           `mapstructure:"rate" yaml:"rate,omitempty"`

	// Settings are the kind's own keys (regions, namespaces, ...): a pointer
	// to the settings struct of the kind's Spec, such as *ecr.Settings.
	// Decode fills it in; adapters read it with SettingsOf.
	Settings any `mapstructure:"-" yaml:"-"`

	// Line is where the provider entry starts in the config file (0 if unknown);
	// SARIF results anchor to it.
	Line int `mapstructure:"-" yaml:"-"`
}

// Credentials names environment variables; secrets are never inline.
type Credentials struct {
	UsernameEnv string `mapstructure:"username_env" yaml:"username_env,omitempty"`
	PasswordEnv string `mapstructure:"password_env" yaml:"password_env,omitempty"`
	TokenEnv    string `mapstructure:"token_env" yaml:"token_env,omitempty"`
}

// TLS options for a provider's API endpoint. Verification stays on unless
// insecure_skip_verify is set explicitly.
type TLS struct {
	CAFile             string `mapstructure:"ca_file" yaml:"ca_file,omitempty"`
	InsecureSkipVerify bool   `mapstructure:"insecure_skip_verify" yaml:"insecure_skip_verify,omitempty"`
}

// Rate limits calls to one provider; zero means the adapter's default.
type Rate struct {
	RequestsPerSecond float64 `mapstructure:"requests_per_second" yaml:"requests_per_second,omitempty"`
	MaxConcurrent     int     `mapstructure:"max_concurrent" yaml:"max_concurrent,omitempty"`
}

// Policy says what counts as compliant.
type Policy struct {
	MutableTagsAllowed []string    `mapstructure:"mutable_tags_allowed" yaml:"mutable_tags_allowed,omitempty"`
	Exemptions         []Exemption `mapstructure:"exemptions" yaml:"exemptions,omitempty"`
}

// Exemption turns drift into exempt for matching repositories until Expires.
// Provider, Scope and Repository are globs where * matches any run of
// characters, "/" included; empty Provider and Scope mean "*".
type Exemption struct {
	Provider   string `mapstructure:"provider" yaml:"provider,omitempty"`
	Scope      string `mapstructure:"scope" yaml:"scope,omitempty"`
	Repository string `mapstructure:"repository" yaml:"repository"`
	Reason     string `mapstructure:"reason" yaml:"reason"`
	// Expires is the last day the exemption applies (inclusive, UTC); zero = never.
	Expires time.Time `mapstructure:"expires" yaml:"expires,omitempty"`
}

// Ledger selects the tag history database (see internal/ledger): empty
// is the SQLite file $XDG_STATE_HOME/immutag/ledger.db; a path or
// sqlite:PATH another SQLite file; postgres://... a PostgreSQL database.
// A DSN that needs a password is read from the variable DSNEnv names.
type Ledger struct {
	DSN    string `mapstructure:"dsn" yaml:"dsn,omitempty"`
	DSNEnv string `mapstructure:"dsn_env" yaml:"dsn_env,omitempty"`
}

// MarshalYAML writes the entry as a user would: the envelope keys with the
// kind's own keys (Settings) inline after endpoint, as in a config file.
func (p Provider) MarshalYAML() (any, error) {
	var head, settings, tail yaml.Node
	if err := head.Encode(struct {
		Name     string         `yaml:"name"`
		Kind     providers.Kind `yaml:"kind"`
		Endpoint string         `yaml:"endpoint,omitempty"`
	}{p.Name, p.Kind, p.Endpoint}); err != nil {
		return nil, err
	}
	if p.Settings != nil {
		if err := settings.Encode(p.Settings); err != nil {
			return nil, err
		}
	}
	if err := tail.Encode(struct {
		Credentials Credentials `yaml:"credentials,omitempty"`
		TLS         TLS         `yaml:"tls,omitempty"`
		Rate        Rate        `yaml:"rate,omitempty"`
	}{p.Credentials, p.TLS, p.Rate}); err != nil {
		return nil, err
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, n := range []*yaml.Node{&head, &settings, &tail} {
		if n.Kind == yaml.MappingNode {
			out.Content = append(out.Content, n.Content...)
		}
	}
	return out, nil
}
