package acr

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Settings are the acr keys of a provider entry. At least one of the two
// is required.
type Settings struct {
	// Registries are login servers (myreg.azurecr.io).
	Registries []string `yaml:"registries,omitempty"`
	// Subscriptions are Azure subscription ids whose registries are discovered.
	Subscriptions []string `yaml:"subscriptions,omitempty"`
}

const acrSecretHint = config.PutSecretIn + "credentials.password_env (with credentials.username_env), or use the Azure default credential chain"

// Spec is the acr part of the config contract.
var Spec = &config.Spec{
	Kind:        providers.KindACR,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "password_env"},
	SecretHint: func(key string) string {
		k := strings.ToLower(key)
		if strings.Contains(k, "pass") || k == "pwd" {
			return config.PutSecretIn + "credentials.password_env"
		}
		return acrSecretHint
	},
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if len(s.Registries) == 0 && len(s.Subscriptions) == 0 {
			return c.Errorf("registries", "missing; acr needs registries (login servers such as myreg.azurecr.io) or subscriptions to discover them")
		}
		for j, r := range s.Registries {
			if strings.Contains(r, "/") {
				return c.Errorf(fmt.Sprintf("registries[%d]", j), "want a login server such as myreg.azurecr.io, not a URL or path")
			}
		}
		return c.Pair(p)
	},
}
