package oci

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
)

func TestConfigKeysValidatedWithFileAndLine(t *testing.T) {
	kinds := config.Kinds{Spec}
	cases := []struct{ yaml, want string }{
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n", "immutag.yaml:3: providers[0].endpoint: missing"},
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: https://reg.example.com/some/path\n", "immutag.yaml:5: providers[0].endpoint:"},
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: https://reg.example.com\n    repositories: [team/app, Team/App]\n",
			"providers[0].repositories[1]: \"Team/App\" is not a repository name"},
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: https://reg.example.com\n    credentials:\n      username_env: U\n",
			"providers[0].credentials.password_env: missing"},
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: https://reg.example.com\n    credentials:\n      username_env: U\n      password_env: P\n      token_env: T\n",
			"providers[0].credentials.token_env: use either"},
		{"version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: https://reg.example.com\n    namespaces: [a]\n", "providers[0].namespaces"},
	}
	for _, c := range cases {
		_, err := config.Decode("immutag.yaml", []byte(c.yaml), nil, kinds)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
	ok := "version: 1\nproviders:\n  - name: r\n    kind: oci\n    endpoint: http://127.0.0.1:5000\n    repositories: [team/app]\n    credentials:\n      token_env: REG_TOKEN\n"
	cfg, err := config.Decode("immutag.yaml", []byte(ok), nil, kinds)
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.SettingsOf[Settings](cfg.Providers[0])
	if err != nil || len(s.Repositories) != 1 || s.Repositories[0] != "team/app" {
		t.Errorf("settings %+v %v", s, err)
	}
}
