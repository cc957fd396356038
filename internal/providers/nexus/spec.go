package nexus

import (
	"fmt"
	"regexp"

	"github.com/immutag/immutag/internal/config"
)

// Settings are the nexus keys of a provider entry.
type Settings struct {
	// Repositories limit the audit to these Docker hosted repositories;
	// empty means every one the user may browse.
	Repositories []string `yaml:"repositories,omitempty"`
}

// repoName is Nexus's repository name rule.
var repoName = regexp.MustCompile(`^[a-zA-Z0-9\-][a-zA-Z0-9_\-.]*$`)

// Spec is the nexus part of the config contract.
var Spec = &config.Spec{
	Kind:        Kind,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "password_env"},
	SecretHint:  func(string) string { return config.PutSecretIn + "credentials.password_env" },
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if p.Endpoint == "" {
			return c.Errorf("endpoint", "missing; nexus needs its base URL, e.g. https://nexus.example.com")
		}
		if p.Credentials.UsernameEnv == "" && p.Credentials.PasswordEnv == "" {
			return c.Errorf("credentials.username_env", "missing; nexus needs credentials.username_env and password_env naming the variables that hold a user (or a user token's name and pass code)")
		}
		if err := c.Pair(p); err != nil {
			return err
		}
		for i, r := range s.Repositories {
			if !repoName.MatchString(r) {
				return c.Errorf(fmt.Sprintf("repositories[%d]", i), "invalid repository name %q (letters, digits, '-', '_', '.')", r)
			}
		}
		return nil
	},
}
