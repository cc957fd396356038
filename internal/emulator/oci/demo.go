package oci

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo credentials: the variables the demo's provider entry names.
const (
	DemoUserEnv     = "IMMUTAG_DEMO_OCI_USER"
	DemoPasswordEnv = "IMMUTAG_DEMO_OCI_PASSWORD"
)

// DemoRepositories are the repositories StartDemo seeds.
var DemoRepositories = []string{"team/api", "team/web", "tools/builder"}

// Demo is a running registry seeded for the demo and sandbox:
//
//   - team/api: v1.0.0, v1.1.0 and latest (single-platform images);
//   - team/web: v2.0.0 as a two-platform index, and latest;
//   - tools/builder: v1.
//
// A distribution registry has no tag-immutability setting, so every push
// over an existing tag is accepted, before and after a fix: the ledger is
// what notices it.
type Demo struct {
	*Server
	web      *emulator.HTTPServer
	user, pw string
}

var (
	_ emulator.Demo      = (*Demo)(nil)
	_ emulator.NoSetting = (*Demo)(nil)
)

// StartDemo starts a seeded registry on 127.0.0.1.
func StartDemo(ctx context.Context) (emulator.Demo, error) { return startDemo(ctx) }

func startDemo(ctx context.Context) (*Demo, error) {
	pw, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("oci demo: password: %w", err)
	}
	d := &Demo{user: "demo", pw: pw}
	d.Server = New(Options{Username: d.user, Password: d.pw})
	if d.web, err = emulator.ServeLoopback(d.Handler()); err != nil {
		return nil, err
	}
	if err := d.seed(ctx); err != nil {
		_ = d.web.Close()
		return nil, fmt.Errorf("oci demo: seed: %w", err)
	}
	return d, nil
}

// Pusher pushes to the demo registry with its credentials.
func (d *Demo) Pusher() Pusher {
	return Pusher{Base: d.web.URL(), Auth: &authn.Basic{Username: d.user, Password: d.pw}}
}

func (d *Demo) seed(ctx context.Context) error {
	p := d.Pusher()
	for _, t := range []struct{ repo, tag string }{
		{"team/api", "v1.0.0"}, {"team/api", "v1.1.0"}, {"team/api", "latest"},
		{"team/web", "latest"}, {"tools/builder", "v1"},
	} {
		if _, err := p.Image(ctx, t.repo, t.tag); err != nil {
			return err
		}
	}
	_, err := p.Index(ctx, "team/web", "v2.0.0")
	return err
}

// URL is the registry root, http://127.0.0.1:PORT.
func (d *Demo) URL() string { return d.web.URL() }

// Host is the registry's host:port, the scope of its repositories.
func (d *Demo) Host() string { return strings.TrimPrefix(d.web.URL(), "http://") }

// Kind is "oci".
func (d *Demo) Kind() providers.Kind { return "oci" }

// Provider points the oci adapter at this registry; it lists the catalog.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "oci-demo",
		Kind:        "oci",
		Endpoint:    d.URL(),
		Credentials: config.Credentials{UsernameEnv: DemoUserEnv, PasswordEnv: DemoPasswordEnv},
	}
}

// Env holds the credentials the Provider entry names.
func (d *Demo) Env() map[string]string {
	return map[string]string{DemoUserEnv: d.user, DemoPasswordEnv: d.pw}
}

// OverwriteTarget is team/api:v1.0.0, a release tag.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) {
	return d.Host(), "team/api", "v1.0.0"
}

// PushTag pushes a new image as repository:tag; the registry always accepts it.
func (d *Demo) PushTag(ctx context.Context, _, repository, tag string) error {
	_, err := d.Pusher().Image(ctx, repository, tag)
	return err
}

// NoSetting says why a fix cannot stop the overwrite.
func (d *Demo) NoSetting() string {
	return "the distribution API has no tag-immutability setting"
}

// Close stops the registry.
func (d *Demo) Close() error { return d.web.Close() }
