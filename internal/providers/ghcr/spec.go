package ghcr

import (
	"github.com/immutag/immutag/internal/config"
)

// Settings are the ghcr keys of a provider entry.
type Settings struct {
	// Namespaces are the organisations and users whose packages to audit.
	Namespaces []string `yaml:"namespaces,omitempty"`
}

// Spec is the ghcr part of the config contract.
var Spec = &config.Spec{
	Kind:        Kind,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"token_env"},
	SecretHint:  func(string) string { return config.PutSecretIn + "credentials.token_env" },
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Namespaces) == 0 {
			return c.Errorf("namespaces", "missing; ghcr needs at least one organisation or user")
		}
		if p.Credentials.TokenEnv == "" {
			return c.Errorf("credentials.token_env", "missing; ghcr needs the name of a variable holding a classic personal access token with read:packages")
		}
		return nil
	},
}
