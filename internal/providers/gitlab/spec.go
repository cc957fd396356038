package gitlab

import (
	"github.com/immutag/immutag/internal/config"
)

// Settings are the gitlab keys of a provider entry; at least one of the
// two lists is required.
type Settings struct {
	// Namespaces are group paths (every project below them is audited).
	Namespaces []string `yaml:"namespaces,omitempty"`
	// Projects are project paths (group/project).
	Projects []string `yaml:"projects,omitempty"`
}

// Spec is the gitlab part of the config contract.
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
		if len(s.Namespaces) == 0 && len(s.Projects) == 0 {
			return c.Errorf("namespaces", "missing; gitlab needs groups (namespaces) or projects to audit")
		}
		if p.Credentials.TokenEnv == "" {
			return c.Errorf("credentials.token_env", "missing; gitlab needs the name of a variable holding a personal, group or project access token")
		}
		return nil
	},
}
