package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/acr"
	"github.com/immutag/immutag/internal/providers/artifactregistry"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/ecr"
	"github.com/immutag/immutag/internal/providers/harbor"
	"github.com/immutag/immutag/internal/providers/quay"
)

// TestValidateEmulatorShapes mirrors the entries the emulators' Provider()
// return (loopback endpoints, host:port login servers, a temp CA file), which
// the demo validates before use.
func TestValidateEmulatorShapes(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &config.Config{Version: config.CurrentVersion, Providers: []config.Provider{
		{Name: "aws-demo", Kind: "ecr", Endpoint: "http://127.0.0.1:40001", Settings: config.Keys{"regions": []string{"us-east-1", "eu-west-1"}}},
		{Name: "gar-demo", Kind: "artifactregistry", Endpoint: "127.0.0.1:40002", Settings: config.Keys{"projects": []string{"demo-project"}}},
		{Name: "acr-demo", Kind: "acr", Settings: config.Keys{"registries": []string{"127.0.0.1:40003"}},
			Credentials: config.Credentials{UsernameEnv: "ACR_USER", PasswordEnv: "ACR_PASS"},
			TLS:         config.TLS{CAFile: ca}, Rate: config.Rate{RequestsPerSecond: 25, MaxConcurrent: 4}},
		{Name: "hub-demo", Kind: "dockerhub", Endpoint: "http://127.0.0.1:40004", Settings: config.Keys{"namespaces": []string{"acme"}},
			Credentials: config.Credentials{UsernameEnv: "HUB_USER", TokenEnv: "HUB_TOKEN"}},
		{Name: "quay-demo", Kind: "quay", Endpoint: "http://127.0.0.1:40005", Settings: config.Keys{"namespaces": []string{"acme"}},
			Credentials: config.Credentials{TokenEnv: "QUAY_TOKEN"}},
		{Name: "harbor-demo", Kind: "harbor", Endpoint: "http://127.0.0.1:40006", Settings: &harbor.Settings{Projects: []string{}},
			Credentials: config.Credentials{UsernameEnv: "HARBOR_USER", PasswordEnv: "HARBOR_PASS"}},
	}}
	if err := c.Validate(kinds); err != nil {
		t.Fatal(err)
	}
	// Keys given by name became each kind's own settings type.
	want := []any{&ecr.Settings{}, &artifactregistry.Settings{}, &acr.Settings{}, &dockerhub.Settings{}, &quay.Settings{}, &harbor.Settings{}}
	for i, p := range c.Providers {
		if got, w := fmtType(p.Settings), fmtType(want[i]); got != w {
			t.Errorf("%s: settings %s, want %s", p.Name, got, w)
		}
	}
	if r := c.Providers[0].Settings.(*ecr.Settings).Regions; !slices.Equal(r, []string{"us-east-1", "eu-west-1"}) {
		t.Errorf("ecr regions = %v", r)
	}
}

// TestSpecsAreWellFormed: every kind's keys are unique names that do not
// look like secrets (the secret scan runs before the key check), and its
// settings decode every field type the decoder supports.
func TestSpecsAreWellFormed(t *testing.T) {
	seen := map[providers.Kind]bool{}
	for _, s := range kinds {
		if seen[s.Kind] {
			t.Errorf("kind %s registered twice", s.Kind)
		}
		seen[s.Kind] = true
		keys := s.Keys()
		for i, k := range keys {
			if k == "" || slices.Contains(keys[:i], k) {
				t.Errorf("kind %s: bad or duplicate key %q", s.Kind, k)
			}
			if config.SecretLike(k) {
				t.Errorf("kind %s: key %q looks like a secret", s.Kind, k)
			}
			if slices.Contains([]string{"name", "kind", "endpoint", "credentials", "tls", "rate"}, k) {
				t.Errorf("kind %s: key %q shadows an envelope key", s.Kind, k)
			}
		}
		for _, c := range s.Credentials {
			if !slices.Contains(config.CredKeys, c) {
				t.Errorf("kind %s: credentials.%s is not a credentials key", s.Kind, c)
			}
		}
	}
}

func fmtType(v any) string { return fmt.Sprintf("%T", v) }
