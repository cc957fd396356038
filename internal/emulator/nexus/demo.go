package nexus

import (
	"context"
	"fmt"
	"net/http"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Kind is the registry kind the demo serves.
const Kind = "nexus"

// Demo credential variables named by the demo Provider entry.
const (
	DemoUserEnv     = "IMMUTAG_DEMO_NEXUS_USER"
	DemoPasswordEnv = "IMMUTAG_DEMO_NEXUS_PASSWORD"
)

// DemoUser is the user the demo authenticates as.
const DemoUser = "immutag-audit"

// Demo is a running emulator seeded for the demo and sandbox:
//
//   - docker-dev: ALLOW (mutable), images app and tools;
//   - docker-releases: ALLOW_ONCE (immutable), image api;
//   - docker-edge: ALLOW_ONCE with latestPolicy (partial, latest mutable), image web;
//   - docker-archive: DENY (read-only, immutable), image old;
//   - a raw hosted and a Docker proxy repository, which are not audited.
type Demo struct {
	*Server
	emulator.Served
	pass string
}

var _ emulator.Demo = (*Demo)(nil)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(_ context.Context) (emulator.Demo, error) {
	pass, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("nexus demo: password: %w", err)
	}
	d := &Demo{pass: pass}
	d.Server = New(Options{Username: DemoUser, Password: pass})
	for _, r := range []struct {
		name, policy string
		latest       bool
		images       []string
	}{
		{"docker-dev", "ALLOW", false, []string{"app", "tools"}},
		{"docker-releases", "ALLOW_ONCE", false, []string{"api"}},
		{"docker-edge", "ALLOW_ONCE", true, []string{"web"}},
		{"docker-archive", "DENY", false, []string{"old"}},
	} {
		d.AddDockerHosted(r.name, r.policy, r.latest)
		for _, img := range r.images {
			if err := d.AddImage(r.name, img, "latest", "v1.0.0"); err != nil {
				return nil, err
			}
		}
	}
	d.AddOther("files", "raw", "hosted")
	d.AddOther("dockerhub-proxy", "docker", "proxy")
	web, err := emulator.ServeLoopback(d.Handler())
	if err != nil {
		return nil, fmt.Errorf("nexus demo: listen: %w", err)
	}
	d.Web = web
	return d, nil
}

// Kind is "nexus".
func (d *Demo) Kind() providers.Kind { return Kind }

// Provider points the nexus adapter at this emulator.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "nexus-demo",
		Kind:        Kind,
		Endpoint:    d.URL(),
		Credentials: config.Credentials{UsernameEnv: DemoUserEnv, PasswordEnv: DemoPasswordEnv},
	}
}

// Env holds the credential variables the Provider entry names.
func (d *Demo) Env() map[string]string {
	return map[string]string{DemoUserEnv: DemoUser, DemoPasswordEnv: d.pass}
}

// OverwriteTarget is docker-dev/app:v1.0.0, mutable until the fix.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) {
	return "docker-dev", "app", "v1.0.0"
}

// PushTag pushes a new image to scope's repository:tag over the registry
// API; a refused overwrite wraps emulator.ErrTagImmutable.
func (d *Demo) PushTag(ctx context.Context, scope, repository, tag string) error {
	return emulator.DemoPush{Emulator: "nexus", URL: d.URL(), Prefix: "/repository/" + scope,
		Repo: repository, Tag: tag, User: DemoUser, Pass: d.pass, Label: scope + "/" + repository + ":" + tag,
		Immutable: func(r emulator.PushReply) bool { return r.Status == http.StatusBadRequest && r.Code == "DENIED" }}.Do(ctx)
}
