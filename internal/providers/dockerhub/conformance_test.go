package dockerhub_test

import (
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"net/http"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := startEmu(t, hubemu.Options{})
		return &providertest.Env{
			Provider: newProvider(t, s, nil),
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				switch m {
				case providers.ModeImmutable:
					addRepo(t.(*testing.T), s, "acme", name, false, true, ".*")
				case providers.ModePartial:
					addRepo(t.(*testing.T), s, "acme", name, false, true, `v\d+\..*`)
				default:
					addRepo(t.(*testing.T), s, "acme", name, false, false)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.DenyNamespace("acme", http.StatusForbidden) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Millisecond}) },
			Unreadable: func(_ testing.TB, name string) {
				s.DenyRepository("acme", name, http.StatusForbidden)
			},
		}
	}})
}
