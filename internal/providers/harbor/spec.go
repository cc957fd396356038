package harbor

import (
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the harbor keys of a provider entry.
type Settings struct {
	// Projects limit the audit; empty means every project the account sees.
	Projects []string `yaml:"projects,omitempty"`
}

// Spec is the harbor part of the config contract.
var Spec = &config.Spec{
	Kind:        providers.KindHarbor,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "password_env"},
	SecretHint:  func(string) string { return config.PutSecretIn + "credentials.password_env" },
	Validate: func(p config.Provider, c config.Check) error {
		if p.Endpoint == "" {
			return c.Errorf("endpoint", "missing; harbor needs its base URL, e.g. https://harbor.example.com")
		}
		return c.Pair(p)
	},
}
