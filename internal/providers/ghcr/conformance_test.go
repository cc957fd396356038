package ghcr

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		const token = "ghp_conformance_token_0123456789"
		s := ghcremu.New(ghcremu.Options{Token: token})
		hs := httptest.NewServer(s.Handler())
		t.Cleanup(hs.Close)
		s.AddOwner("acme", true)
		p, err := newProvider(config.Provider{Name: "gh", Kind: Kind, Endpoint: hs.URL,
			Settings: &Settings{Namespaces: []string{"acme"}}, Credentials: config.Credentials{TokenEnv: tokenEnv}},
			providers.Options{Getenv: func(k string) string {
				if k == tokenEnv {
					return token
				}
				return ""
			}},
			func(o *httpapi.Options) {
				o.RequestsPerSecond, o.MaxRetries = 0, 2
				o.Sleep = func(context.Context, time.Duration) error { return nil }
			})
		if err != nil {
			t.Fatal(err)
		}
		return &providertest.Env{
			Provider: p,
			Bare:     providers.ModeUnsupported,
			Modes:    []providers.Mode{providers.ModeUnsupported},
			Add: func(t testing.TB, name string, _ providers.Mode) {
				if _, err := s.Push("acme", name, "v1"); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny("acme", true) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Second}) },
		}
	}})
}
