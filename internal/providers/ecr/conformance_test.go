package ecr

import (
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	const region = "us-east-1"
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := startEmu(t, ecremu.Options{})
		return &providertest.Env{
			Provider: newTestProvider(t, configProvider([]string{region}, nil, s.URL())),
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				var err error
				switch m {
				case providers.ModeImmutable:
					err = s.CreateRepository(emuAccount, region, name, nativeImmutable)
				case providers.ModePartial:
					err = s.CreateRepository(emuAccount, region, name, nativeImmutableExclude, "dev-*")
				default:
					err = s.CreateRepository(emuAccount, region, name, "MUTABLE")
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny(emuAccount, region, "*") },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
		}
	}})
}
