package artifactory

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/config"
)

// Settings are the artifactory keys of a provider entry.
type Settings struct {
	// Repositories limit the audit to these Docker local repositories
	// (keys); empty means every one the credentials can see.
	Repositories []string `yaml:"repositories,omitempty"`
}

// Spec is the artifactory part of the config contract.
var Spec = &config.Spec{
	Kind:        Kind,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "password_env", "token_env"},
	SecretHint: func(key string) string {
		if strings.Contains(strings.ToLower(key), "pass") {
			return config.PutSecretIn + "credentials.password_env"
		}
		return config.PutSecretIn + "credentials.token_env (an access token)"
	},
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if p.Endpoint == "" {
			return c.Errorf("endpoint", "missing; artifactory needs the platform URL, e.g. https://acme.jfrog.io")
		}
		cr := p.Credentials
		switch {
		case cr.TokenEnv != "" && (cr.UsernameEnv != "" || cr.PasswordEnv != ""):
			return c.Errorf("credentials.token_env", "set either token_env (an access token) or username_env and password_env, not both")
		case cr.TokenEnv == "" && cr.UsernameEnv == "" && cr.PasswordEnv == "":
			return c.Errorf("credentials.token_env", "missing; artifactory needs token_env (an access token) or username_env and password_env")
		}
		if err := c.Pair(p); err != nil {
			return err
		}
		for i, r := range s.Repositories {
			if strings.TrimSpace(r) == "" || strings.ContainsAny(r, "/ ") {
				return c.Errorf(fmt.Sprintf("repositories[%d]", i), "invalid repository key %q", r)
			}
		}
		return nil
	},
}
