package harbor

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/harbor"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := emu.New(emu.Options{Username: user, Password: pass})
		hs := httptest.NewServer(s.Handler())
		t.Cleanup(hs.Close)
		s.AddProject("acme", false)
		p, err := newProvider(config.Provider{
			Name: "h", Kind: "harbor", Endpoint: hs.URL, Settings: &Settings{Projects: []string{"acme"}},
			Credentials: config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv},
		}, providers.Options{Getenv: testEnv}, func(o *httpapi.Options) {
			// Two retries: Retry-After is whole seconds.
			o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 2
		})
		if err != nil {
			t.Fatal(err)
		}
		return &providertest.Env{
			Provider: p,
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				if err := s.AddRepo("acme", name, "latest", "v1"); err != nil {
					t.Fatal(err)
				}
				var err error
				switch m {
				case providers.ModeImmutable:
					_, err = s.AddRule("acme", emu.NewRule("repoMatches", name, "matches", "**"))
				case providers.ModePartial:
					_, err = s.AddRule("acme", emu.NewRule("repoMatches", name, "matches", "v*"))
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny("acme", true) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
			Shared:   true,
		}
	}})
}
