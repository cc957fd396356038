package quay

import (
	"context"
	"fmt"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// DemoTokenEnv names the variable that carries the demo's OAuth token.
const DemoTokenEnv = "IMMUTAG_DEMO_QUAY_TOKEN"

// Demo is a running emulator seeded for the demo and sandbox:
//
//   - organisation "acme": api (repository policy ".*": immutable),
//     web (repository policy "v[0-9]+\..*": partial), worker (no policy: mutable);
//   - user namespace "alice": sandbox (no policy: mutable, fixed at repository level);
//   - organisation "legacy": FEATURE_IMMUTABLE_TAGS switched off for this
//     namespace only (policy routes answer 404), so its repository "tools"
//     is unsupported. Real Quay sets the flag per instance; one emulator with a
//     per-namespace switch keeps the demo to one provider entry.
type Demo struct {
	*Server
	emulator.Served
	token string
	// grown are the organisations Grow added, which Provider lists too.
	grown []string
	start time.Time
}

var (
	_ emulator.Demo            = (*Demo)(nil)
	_ emulator.SeededOverwrite = (*Demo)(nil)
)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(ctx context.Context) (emulator.Demo, error) {
	return startDemo(ctx)
}

func startDemo(_ context.Context) (*Demo, error) {
	token, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("quay demo: token: %w", err)
	}
	d := &Demo{token: token, start: time.Now().UTC()}
	d.Server = New(Options{Token: d.token})
	if err := d.seed(); err != nil {
		return nil, err
	}
	web, err := emulator.ServeLoopback(d.Handler())
	if err != nil {
		return nil, fmt.Errorf("quay demo: listen: %w", err)
	}
	d.Web = web
	return d, nil
}

func (d *Demo) seed() error {
	s := d.Server
	s.AddOrg("acme")
	s.AddUser("alice")
	s.AddOrg("legacy")
	s.SetFeatureFor("legacy", false)
	for _, r := range []struct{ ns, name string }{
		{"acme", "api"}, {"acme", "web"}, {"acme", "worker"}, {"alice", "sandbox"}, {"legacy", "tools"},
	} {
		if err := s.AddRepo(r.ns, r.name, "latest", "v1.0.0"); err != nil {
			return err
		}
	}
	// acme/worker:latest was overwritten a month ago: Quay's tag history
	// remembers what it named before, from 90 days back.
	now := d.start
	if err := s.SeedTagHistory("acme", "worker", "latest", digestOf([]byte("acme/worker:latest#before")),
		now.Add(-90*24*time.Hour), now.Add(-30*24*time.Hour)); err != nil {
		return err
	}
	if _, err := s.AddRepoPolicy("acme", "api", ".*", true); err != nil {
		return err
	}
	if _, err := s.AddRepoPolicy("acme", "web", `v[0-9]+\..*`, true); err != nil {
		return err
	}
	return nil
}

// Kind is "quay".
func (d *Demo) Kind() providers.Kind { return providers.KindQuay }

// Provider points the quay adapter at this emulator.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "quay-demo",
		Kind:        providers.KindQuay,
		Endpoint:    d.URL(),
		Settings:    config.Keys{"namespaces": append([]string{"acme", "alice", "legacy"}, d.grown...)},
		Credentials: config.Credentials{TokenEnv: DemoTokenEnv},
	}
}

// Env holds the token variable the Provider entry names.
func (d *Demo) Env() map[string]string { return map[string]string{DemoTokenEnv: d.token} }

// OverwriteTarget is acme/worker:latest, mutable until the organisation policy exists.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) { return "acme", "worker", "latest" }

// SeededOverwrite is acme/worker:latest 60 days before the demo, when it
// still named the image it was moved off 30 days before.
func (d *Demo) SeededOverwrite() (scope, repository, tag string, at time.Time) {
	return "acme", "worker", "latest", d.start.Add(-60 * 24 * time.Hour)
}
