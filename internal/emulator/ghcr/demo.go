package ghcr

import (
	"context"
	"fmt"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// DemoTokenEnv names the variable that carries the demo's token.
const DemoTokenEnv = "IMMUTAG_DEMO_GHCR_TOKEN"

// Demo is a running emulator seeded for the demo and sandbox:
//
//   - organisation "acme": api (1.0.0, 1.1.0, latest), web (2.0.0, latest);
//   - user "alice": sandbox/tool (dev).
//
// ghcr.io has no tag-immutability setting, so a push over a tag always
// moves it to a new version, before and after a fix.
type Demo struct {
	*Server
	web   *emulator.HTTPServer
	token string
}

var (
	_ emulator.Demo      = (*Demo)(nil)
	_ emulator.NoSetting = (*Demo)(nil)
)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(ctx context.Context) (emulator.Demo, error) { return startDemo(ctx) }

func startDemo(context.Context) (*Demo, error) {
	tok, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("ghcr demo: token: %w", err)
	}
	d := &Demo{token: "ghp_" + tok}
	d.Server = New(Options{Token: d.token})
	d.AddOwner("acme", true)
	d.AddOwner("alice", false)
	for _, p := range []struct {
		owner, pkg string
		tags       []string
	}{
		{"acme", "api", []string{"1.0.0"}}, {"acme", "api", []string{"1.1.0", "latest"}},
		{"acme", "web", []string{"2.0.0", "latest"}}, {"alice", "sandbox/tool", []string{"dev"}},
	} {
		if _, err := d.Push(p.owner, p.pkg, p.tags...); err != nil {
			return nil, err
		}
	}
	if d.web, err = emulator.ServeLoopback(d.Handler()); err != nil {
		return nil, err
	}
	return d, nil
}

// URL is the API root, http://127.0.0.1:PORT.
func (d *Demo) URL() string { return d.web.URL() }

// Kind is "ghcr".
func (d *Demo) Kind() providers.Kind { return "ghcr" }

// Provider points the ghcr adapter at this emulator.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "ghcr-demo",
		Kind:        "ghcr",
		Endpoint:    d.URL(),
		Settings:    config.Keys{"namespaces": []string{"acme", "alice"}},
		Credentials: config.Credentials{TokenEnv: DemoTokenEnv},
	}
}

// Env holds the token variable the Provider entry names.
func (d *Demo) Env() map[string]string { return map[string]string{DemoTokenEnv: d.token} }

// OverwriteTarget is acme/api:1.0.0, a release tag.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) { return "acme", "api", "1.0.0" }

// PushTag pushes a new version carrying tag; ghcr.io always accepts it.
func (d *Demo) PushTag(_ context.Context, scope, repository, tag string) error {
	_, err := d.Push(scope, repository, tag)
	return err
}

// NoSetting says why a fix cannot stop the overwrite.
func (d *Demo) NoSetting() string { return "GitHub Container Registry has no tag-immutability setting" }

// Close stops the emulator.
func (d *Demo) Close() error { return d.web.Close() }
