package artifactregistry

import (
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	const project, loc = "p1", "us-central1"
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := startEmu(t)
		s.AddLocation(project, loc)
		return &providertest.Env{
			Provider: newProvider(t, s, nil),
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModeImmutable, providers.ModeUnsupported},
			Add: func(t testing.TB, name string, m providers.Mode) {
				mode := aremu.ModeStandard
				if m == providers.ModeUnsupported {
					mode = aremu.ModeVirtual
				}
				if err := s.CreateRepository(project, loc, name, mode, m == providers.ModeImmutable); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.Deny(project, "") },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
		}
	}})
}
