package quay

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := emu.New(emu.Options{Token: token})
		hs := httptest.NewServer(s.Handler())
		t.Cleanup(hs.Close)
		s.AddOrg("acme")
		return &providertest.Env{
			Provider: conformanceProvider(t, hs.URL),
			Modes:    []providers.Mode{providers.ModeMutable, providers.ModePartial, providers.ModeImmutable},
			Add: func(t testing.TB, name string, m providers.Mode) {
				if err := s.AddRepo("acme", name, "latest", "v1.0.0"); err != nil {
					t.Fatal(err)
				}
				var err error
				switch m {
				case providers.ModeImmutable:
					_, err = s.AddRepoPolicy("acme", name, ".*", true)
				case providers.ModePartial:
					_, err = s.AddRepoPolicy("acme", name, `v[0-9]+\..*`, true)
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

// conformanceProvider retries a throttled call twice (Retry-After is whole
// seconds), so the throttled check fails the scope in test time.
func conformanceProvider(t *testing.T, endpoint string) *Provider {
	t.Helper()
	p, err := newProvider(config.Provider{
		Name: "q", Kind: "quay", Endpoint: endpoint, Settings: &Settings{Namespaces: []string{"acme"}},
		Credentials: config.Credentials{TokenEnv: tokenEnv},
	}, providers.Options{Getenv: func(k string) string {
		if k == tokenEnv {
			return token
		}
		return ""
	}}, func(o *httpapi.Options) {
		o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 2
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
