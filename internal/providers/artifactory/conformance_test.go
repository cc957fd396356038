package artifactory

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/providertest"
)

// TestConformance: who can overwrite is set per repository by permission
// targets, so an image in a mode other than mutable gets a repository of
// its own; mutable images share docker-bare, where an auto-join group
// (every user) holds Delete/Overwrite. Fixes are plans only.
func TestConformance(t *testing.T) {
	const token = "artifactory-conformance-token"
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := afemu.New(afemu.Options{Token: token, TokenUser: "conformance-admin"})
		sWeb := httptest.NewServer(s.Handler())
		t.Cleanup(sWeb.Close)
		s.SetGroup("everyone", afemu.Group{AutoJoin: true})
		s.AddUser(afemu.User{Name: "deployer"})
		s.AddRepo("docker-bare", "local", "docker")
		s.SetTarget(afemu.Target{Name: "bare", Repos: []string{"docker-bare"},
			Groups: map[string][]string{"everyone": {"read", "write", "delete"}}})
		p, err := newProvider(config.Provider{Name: "af", Kind: Kind, Endpoint: sWeb.URL,
			Credentials: config.Credentials{TokenEnv: "AF_TOKEN"}},
			providers.Options{Getenv: func(string) string { return token }}, func(o *httpapi.Options) {
				o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 2
			})
		if err != nil {
			t.Fatal(err)
		}
		return &providertest.Env{
			Provider: p,
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				repo := "docker-bare"
				if m != providers.ModeMutable {
					repo = "docker-" + name
					s.AddRepo(repo, "local", "docker")
					actions := []string{"read", "write"}
					if m == providers.ModePartial {
						actions = append(actions, "delete")
					}
					s.SetTarget(afemu.Target{Name: "t-" + name, Repos: []string{repo},
						Users: map[string][]string{"deployer": actions}})
				}
				if err := s.AddImage(repo, name, "latest", "v1"); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny("docker-bare", true) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
			PlanOnly: true,
		}
	}})
}
