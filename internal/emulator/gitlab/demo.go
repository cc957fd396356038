package gitlab

import (
	"context"
	"fmt"
	"net/http"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Kind is the registry kind the demo serves.
const Kind = "gitlab"

// DemoTokenEnv is the variable the demo Provider entry names.
const DemoTokenEnv = "IMMUTAG_DEMO_GITLAB_TOKEN"

// Demo is a running emulator seeded for the demo and sandbox (group "acme"
// and its subgroup "acme/platform"):
//
//   - acme/web: repositories "" (root) and app; no rules (mutable);
//   - acme/platform/api: immutable rule ".*" (immutable);
//   - acme/platform/worker: protection rule "^v.*" push/delete MAINTAINER
//     (partial: Maintainers and above can still overwrite);
//   - acme/legacy: immutable rule "^v[0-9]+" (partial, mutable tags unknown);
//   - acme/docs: container registry disabled (not listed).
type Demo struct {
	*Server
	emulator.Served
	token string
}

var _ emulator.Demo = (*Demo)(nil)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(_ context.Context) (emulator.Demo, error) {
	tok, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("gitlab demo: token: %w", err)
	}
	d := &Demo{token: "glpat-" + tok}
	d.Server = New(Options{Token: d.token})
	if err := d.seed(); err != nil {
		return nil, err
	}
	web, err := emulator.ServeLoopback(d.Handler())
	if err != nil {
		return nil, fmt.Errorf("gitlab demo: listen: %w", err)
	}
	d.Web = web
	return d, nil
}

func ptr(s string) *string { return &s }

func (d *Demo) seed() error {
	s := d.Server
	s.AddGroup("acme/platform")
	for _, p := range []struct {
		path  string
		o     Project
		repos []string
	}{
		{"acme/web", Project{}, []string{"", "app"}},
		{"acme/platform/api", Project{}, []string{"server"}},
		{"acme/platform/worker", Project{}, []string{"jobs"}},
		{"acme/legacy", Project{}, []string{"monolith"}},
		{"acme/docs", Project{RegistryDisabled: true}, nil},
	} {
		if err := s.AddProject(p.path, p.o); err != nil {
			return err
		}
		for _, r := range p.repos {
			if err := s.AddRepo(p.path, r, "latest", "v1.0.0"); err != nil {
				return err
			}
		}
	}
	for _, r := range []struct {
		project string
		rule    Rule
	}{
		{"acme/platform/api", Rule{Pattern: ".*"}},
		{"acme/platform/worker", Rule{Pattern: "^v.*", PushLevel: ptr("MAINTAINER"), DeleteLevel: ptr("MAINTAINER")}},
		{"acme/legacy", Rule{Pattern: "^v[0-9]+"}},
	} {
		if _, err := s.AddRule(r.project, r.rule); err != nil {
			return err
		}
	}
	return nil
}

// Kind is "gitlab".
func (d *Demo) Kind() providers.Kind { return Kind }

// Provider points the gitlab adapter at this emulator (group acme).
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "gitlab-demo",
		Kind:        Kind,
		Endpoint:    d.URL(),
		Settings:    config.Keys{"groups": []string{"acme"}},
		Credentials: config.Credentials{TokenEnv: DemoTokenEnv},
	}
}

// Env holds the credential variable the Provider entry names.
func (d *Demo) Env() map[string]string { return map[string]string{DemoTokenEnv: d.token} }

// OverwriteTarget is acme/web/app:v1.0.0, mutable until the fix.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) {
	return "acme/web", "acme/web/app", "v1.0.0"
}

// PushTag pushes a new image to repository:tag over the registry v2 API.
// An overwrite refused by an immutable rule wraps emulator.ErrTagImmutable.
func (d *Demo) PushTag(ctx context.Context, _, repository, tag string) error {
	return emulator.DemoPush{Emulator: "gitlab", URL: d.URL(),
		Repo: repository, Tag: tag, User: "immutag", Pass: d.token, Label: repository + ":" + tag,
		Immutable: func(r emulator.PushReply) bool { return r.Status == http.StatusForbidden && r.Code == "DENIED" }}.Do(ctx)
}
