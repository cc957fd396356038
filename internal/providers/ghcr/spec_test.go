package ghcr

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
)

func TestConfigKeysValidatedWithFileAndLine(t *testing.T) {
	kinds := config.Kinds{Spec}
	for _, c := range []struct{ yaml, want string }{
		{"version: 1\nproviders:\n  - name: gh\n    kind: ghcr\n    credentials:\n      token_env: GH\n", "immutag.yaml:3: providers[0].namespaces: missing"},
		{"version: 1\nproviders:\n  - name: gh\n    kind: ghcr\n    namespaces: [acme]\n", "providers[0].credentials.token_env: missing"},
		{"version: 1\nproviders:\n  - name: gh\n    kind: ghcr\n    namespaces: [acme]\n    credentials:\n      token_env: GH\n      password_env: P\n", "immutag.yaml:8: providers[0].credentials.password_env"},
		{"version: 1\nproviders:\n  - name: gh\n    kind: ghcr\n    namespaces: [acme]\n    repositories: [x]\n    credentials:\n      token_env: GH\n", "immutag.yaml:6: providers[0].repositories"},
	} {
		_, err := config.Decode("immutag.yaml", []byte(c.yaml), nil, kinds)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.yaml, err, c.want)
		}
	}
}
