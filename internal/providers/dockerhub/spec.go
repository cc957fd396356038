package dockerhub

import (
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the dockerhub keys of a provider entry.
type Settings struct {
	// Namespaces are users or organisations (required): Hub has no
	// documented call that lists the namespaces a token can see.
	Namespaces []string `yaml:"namespaces,omitempty"`
}

// Spec is the dockerhub part of the config contract.
var Spec = &config.Spec{
	Kind:        providers.KindDockerHub,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "token_env"},
	SecretHint:  func(string) string { return config.PutSecretIn + "credentials.token_env" },
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Namespaces) == 0 {
			return c.Errorf("namespaces", "missing; dockerhub needs at least one namespace (user or organisation)")
		}
		if p.Credentials.TokenEnv == "" {
			return c.Errorf("credentials.token_env", "missing; dockerhub needs the name of a variable holding a personal or organisation access token")
		}
		if p.Credentials.UsernameEnv == "" {
			return c.Errorf("credentials.username_env", "missing; dockerhub needs the name of a variable holding the user (or organisation) name")
		}
		return nil
	},
}
