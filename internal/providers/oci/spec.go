package oci

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/immutag/immutag/internal/config"
)

// Settings are the oci keys of a provider entry.
type Settings struct {
	// Repositories, when set, are audited instead of listing /v2/_catalog
	// (a Docker extension that many registries reserve for administrators
	// and the OCI spec does not define).
	Repositories []string `yaml:"repositories,omitempty"`
}

// Spec is the oci part of the config contract.
var Spec = &config.Spec{
	Kind:        Kind,
	Settings:    func() any { return &Settings{} },
	Credentials: []string{"username_env", "password_env", "token_env"},
	SecretHint: func(key string) string {
		if strings.Contains(strings.ToLower(key), "token") {
			return config.PutSecretIn + "credentials.token_env (a registry bearer token), or use credentials.username_env and password_env"
		}
		return config.PutSecretIn + "credentials.password_env (with credentials.username_env)"
	},
	Endpoint: func(raw string) string {
		if _, _, err := ParseEndpoint(raw); err != nil {
			return err.Error()
		}
		return ""
	},
	Validate: func(p config.Provider, c config.Check) error {
		s, err := config.SettingsOf[Settings](p)
		if err != nil {
			return err
		}
		if p.Endpoint == "" {
			return c.Errorf("endpoint", "missing; oci needs the registry root, e.g. https://registry.example.com")
		}
		if err := c.Pair(p); err != nil {
			return err
		}
		if p.Credentials.TokenEnv != "" && p.Credentials.UsernameEnv != "" {
			return c.Errorf("credentials.token_env", "use either credentials.token_env or credentials.username_env and password_env, not both")
		}
		for i, r := range s.Repositories {
			if _, err := name.NewRepository("registry.invalid/"+r, name.StrictValidation); err != nil || r != strings.TrimSpace(r) {
				return c.Errorf(fmt.Sprintf("repositories[%d]", i), "%q is not a repository name (lower-case path components such as team/app, no registry host, no tag)", r)
			}
		}
		return nil
	},
}
