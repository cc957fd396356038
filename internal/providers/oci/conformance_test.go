package oci

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Suite{New: func(t *testing.T) *providertest.Env {
		s := ociemu.New(ociemu.Options{Username: "conf", Password: "conformance-secret"})
		hs := httptest.NewServer(s.Handler())
		t.Cleanup(hs.Close)
		env := map[string]string{userEnv: "conf", passEnv: "conformance-secret"}
		p, err := NewFromConfig(Config{Name: "o", Endpoint: hs.URL, UsernameEnv: userEnv, PasswordEnv: passEnv},
			providers.Options{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		p.backoff.Duration = time.Millisecond
		p.sleep = func(context.Context, time.Duration) error { return nil }
		return &providertest.Env{
			Provider: p,
			Bare:     providers.ModeUnsupported,
			Modes:    []providers.Mode{providers.ModeUnsupported},
			Add: func(t testing.TB, name string, _ providers.Mode) {
				if _, err := s.Seed(name, "v1"); err != nil {
					t.Fatal(err)
				}
			},
			PageSize: func(n int) { s.SetFaults(emulator.Faults{PageSize: n}) },
			Deny:     func(testing.TB) { s.SetDenied(true) },
			Throttle: func(testing.TB) { s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: time.Second}) },
		}
	}})
}
