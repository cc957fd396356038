package gitlab

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

// TestConformance: tag rules belong to a project, so a repository in a
// mode other than mutable gets a project of its own (acme/NAME, the root
// image); mutable ones share acme/bare, as a team's images do.
func TestConformance(t *testing.T) {
	const token = "glpat-conformance-token"
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := glemu.New(glemu.Options{Token: token})
		sWeb := httptest.NewServer(s.Handler())
		t.Cleanup(sWeb.Close)
		s.AddGroup("acme")
		if err := s.AddProject("acme/bare", glemu.Project{}); err != nil {
			t.Fatal(err)
		}
		p, err := newProvider(config.Provider{Name: "gl", Kind: Kind, Endpoint: sWeb.URL,
			Settings: &Settings{Groups: []string{"acme"}}, Credentials: config.Credentials{TokenEnv: "GL_TOKEN"}},
			providers.Options{Getenv: func(string) string { return token }, Retry: providers.RetryTuning{MaxBackoff: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		maintainer := "MAINTAINER"
		return &providertest.Env{
			Provider: p,
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				if m == providers.ModeMutable {
					if err := s.AddRepo("acme/bare", name, "latest", "v1"); err != nil {
						t.Fatal(err)
					}
					return
				}
				proj := "acme/" + name
				if err := s.AddProject(proj, glemu.Project{}); err != nil {
					t.Fatal(err)
				}
				if err := s.AddRepo(proj, "", "latest", "v1"); err != nil {
					t.Fatal(err)
				}
				rule := glemu.Rule{Pattern: ".*"}
				if m == providers.ModePartial {
					rule = glemu.Rule{Pattern: "^v", PushLevel: &maintainer, DeleteLevel: &maintainer}
				}
				if _, err := s.AddRule(proj, rule); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			// A Reporter can see the project but not its tag rules.
			Deny:     func(testing.TB) { s.SetRole("acme/bare", 20) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1}) },
			Shared:   true,
		}
	}})
}
