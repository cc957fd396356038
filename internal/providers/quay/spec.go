package quay

import (
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the quay keys of a provider entry.
type Settings struct {
	// Namespaces are organisations or users (required).
	Namespaces []string `yaml:"namespaces,omitempty"`
}

// Spec is the quay part of the config contract.
var Spec = &config.Spec{
	Kind:        providers.KindQuay,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"token_env"},
	SecretHint:  func(string) string { return config.PutSecretIn + "credentials.token_env" },
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Namespaces) == 0 {
			return c.Errorf("namespaces", "missing; quay needs at least one namespace (organisation)")
		}
		return nil
	},
}
