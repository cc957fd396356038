package nexus

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/providertest"
)

// TestConformance: the deployment policy belongs to a Nexus repository, so
// an image in a mode other than mutable gets a repository of its own;
// mutable images share docker-bare.
func TestConformance(t *testing.T) {
	const user, pass = "conformance", "nexus-conformance-password"
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := nxemu.New(nxemu.Options{Username: user, Password: pass})
		sWeb := httptest.NewServer(s.Handler())
		t.Cleanup(sWeb.Close)
		s.AddDockerHosted("docker-bare", "ALLOW", false)
		env := map[string]string{"NX_USER": user, "NX_PASS": pass}
		p, err := newProvider(config.Provider{Name: "nx", Kind: Kind, Endpoint: sWeb.URL,
			Credentials: config.Credentials{UsernameEnv: "NX_USER", PasswordEnv: "NX_PASS"}},
			providers.Options{Getenv: func(k string) string { return env[k] }}, func(o *httpapi.Options) {
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
				switch m {
				case providers.ModePartial:
					repo = "docker-" + name
					s.AddDockerHosted(repo, "ALLOW_ONCE", true)
				case providers.ModeImmutable:
					repo = "docker-" + name
					s.AddDockerHosted(repo, "ALLOW_ONCE", false)
				}
				if err := s.AddImage(repo, name, "latest", "v1"); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny("docker-bare", true) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
			Shared:   true,
		}
	}})
}
