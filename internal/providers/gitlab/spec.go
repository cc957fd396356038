package gitlab

import (
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/config"
)

// Settings are the gitlab keys of a provider entry; at least one of the
// two lists is required.
type Settings struct {
	// Groups are group full paths (acme, acme/platform): every project of
	// the group and of its subgroups is audited.
	Groups []string `yaml:"groups,omitempty"`
	// Projects are project full paths (acme/platform/api), audited besides
	// the groups' projects.
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
		if len(s.Groups) == 0 && len(s.Projects) == 0 {
			return c.Errorf("groups", "missing; gitlab needs groups (full paths such as acme or acme/platform) or projects (acme/platform/api) to audit")
		}
		for _, l := range []struct {
			key  string
			vals []string
			want string
		}{{"groups", s.Groups, "acme/platform"}, {"projects", s.Projects, "acme/platform/api"}} {
			for i, v := range l.vals {
				key := fmt.Sprintf("%s[%d]", l.key, i)
				switch {
				case strings.Contains(v, "://"):
					return c.Errorf(key, "want a full path such as %s, not a URL (the GitLab URL goes in endpoint)", l.want)
				case strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.Contains(v, "//"):
					return c.Errorf(key, "want a full path such as %s, without leading, trailing or doubled slashes", l.want)
				case strings.ContainsAny(v, " \t*"):
					return c.Errorf(key, "want a full path such as %s (no spaces or wildcards)", l.want)
				}
				if l.key == "projects" && !strings.Contains(v, "/") {
					return c.Errorf(key, "want a project's full path with its group, such as %s", l.want)
				}
			}
		}
		if p.Credentials.TokenEnv == "" {
			return c.Errorf("credentials.token_env", "missing; gitlab needs the name of a variable holding a personal, group or project access token")
		}
		return nil
	},
}
