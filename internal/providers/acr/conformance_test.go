package acr

import (
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	// Small is above maxCachedScopes: the per-repository token cache is
	// bounded, and both runs must hold it full to compare like with like.
	providertest.Run(t, providertest.Suite{Small: 2 * maxCachedScopes, New: func(t *testing.T) *providertest.Env {
		s := newEmu(t, emu.Options{})
		p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{
			Settings: &Settings{Registries: []string{s.LoginServer()}},
			Rate:     config.Rate{RequestsPerSecond: 1000},
		}, mods: []func(*Provider){func(p *Provider) { p.throttleWaits = 0 }}})
		return &providertest.Env{
			Provider: p,
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(_ testing.TB, name string, m providers.Mode) {
				s.AddRepository(name)
				s.AddTag(name, "latest", m != providers.ModeMutable)
				s.AddTag(name, "v1.0.0", m == providers.ModeImmutable)
			},
			PageSize:   func(n int) { p.pageSize = int32(n) },
			Deny:       func(testing.TB) { s.Deny("registry:catalog") },
			Unreadable: func(_ testing.TB, name string) { s.Deny(name) },
			Throttle: func(testing.TB) {
				s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond})
			},
		}
	}})
}
