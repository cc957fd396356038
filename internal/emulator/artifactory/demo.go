package artifactory

import (
	"context"
	"fmt"
	"net/http"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Kind is the registry kind the demo serves.
const Kind = "artifactory"

// DemoTokenEnv is the variable the demo Provider entry names.
const DemoTokenEnv = "IMMUTAG_DEMO_ARTIFACTORY_TOKEN"

// Demo is a running emulator seeded for the demo and sandbox:
//
//   - docker-local: target docker-deployers gives user alice
//     read/write/delete (partial: alice can overwrite), group ci read/write;
//   - docker-prod: only group admins (administrators) holds delete
//     (immutable);
//   - docker-mixed: target team-leads gives user bob delete on team/**
//     only (team/app partial, other/app immutable);
//   - docker-scratch: the auto-join group readers (every user) holds
//     delete (mutable);
//   - a remote Docker and a generic local repository, which are not audited.
type Demo struct {
	*Server
	emulator.Served
	alicePass string
}

var _ emulator.Demo = (*Demo)(nil)

// StartDemo starts a seeded emulator on 127.0.0.1.
func StartDemo(_ context.Context) (emulator.Demo, error) {
	tok, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("artifactory demo: token: %w", err)
	}
	pass, err := emulator.DemoSecret()
	if err != nil {
		return nil, fmt.Errorf("artifactory demo: password: %w", err)
	}
	d := &Demo{alicePass: pass}
	d.Server = New(Options{Token: tok, TokenUser: "immutag-audit"})
	d.seed()
	web, err := emulator.ServeLoopback(d.Handler())
	if err != nil {
		return nil, fmt.Errorf("artifactory demo: listen: %w", err)
	}
	d.Web = web
	return d, nil
}

func (d *Demo) seed() {
	s := d.Server
	s.AddUser(User{Name: "alice", Password: d.alicePass, Groups: []string{"ci"}})
	s.AddUser(User{Name: "bob"})
	s.AddUser(User{Name: "root", Admin: true})
	s.AddGroup("ci", false)
	s.AddGroup("admins", true)
	s.SetGroup("readers", Group{AutoJoin: true})
	s.AddRepo("docker-local", "local", "docker")
	s.AddRepo("docker-prod", "local", "docker")
	s.AddRepo("docker-mixed", "local", "docker")
	s.AddRepo("docker-scratch", "local", "docker")
	s.AddRepo("dockerhub-remote", "remote", "docker")
	s.AddRepo("generic-local", "local", "generic")
	for _, r := range []struct{ repo, image string }{
		{"docker-local", "app"}, {"docker-local", "tools"}, {"docker-prod", "api"},
		{"docker-mixed", "team/app"}, {"docker-mixed", "other/app"}, {"docker-scratch", "tmp"},
	} {
		_ = s.AddImage(r.repo, r.image, "latest", "v1.0.0")
	}
	s.SetTarget(Target{Name: "docker-deployers", Repos: []string{"docker-local"},
		Users:  map[string][]string{"alice": {"read", "write", "delete"}},
		Groups: map[string][]string{"ci": {"read", "write"}}})
	s.SetTarget(Target{Name: "prod-release", Repos: []string{"docker-prod"},
		Groups: map[string][]string{"ci": {"read", "write"}, "admins": {"read", "write", "delete", "manage"}}})
	s.SetTarget(Target{Name: "scratch", Repos: []string{"docker-scratch"},
		Groups: map[string][]string{"readers": {"read", "write", "delete"}}})
	s.SetTarget(Target{Name: "team-leads", Repos: []string{"docker-mixed"}, Include: []string{"team/**"},
		Users: map[string][]string{"bob": {"read", "write", "delete"}}})
}

// Kind is "artifactory".
func (d *Demo) Kind() providers.Kind { return Kind }

// Provider points the artifactory adapter at this emulator.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:        "artifactory-demo",
		Kind:        Kind,
		Endpoint:    d.URL(),
		Credentials: config.Credentials{TokenEnv: DemoTokenEnv},
	}
}

// Env holds the credential variable the Provider entry names.
func (d *Demo) Env() map[string]string { return map[string]string{DemoTokenEnv: d.o.Token} }

// OverwriteTarget is docker-local/app:v1.0.0, which alice can overwrite:
// the fix is a plan only, so it stays overwritable after it.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) {
	return "docker-local", "app", "v1.0.0"
}

// PushTag pushes as alice, the deployer holding Delete/Overwrite; a
// refused overwrite wraps emulator.ErrTagImmutable.
func (d *Demo) PushTag(ctx context.Context, scope, repository, tag string) error {
	return emulator.DemoPush{Emulator: "artifactory", URL: d.URL(), Prefix: "/artifactory/api/docker/" + scope,
		Repo: repository, Tag: tag, User: "alice", Pass: d.alicePass, Label: scope + "/" + repository + ":" + tag,
		Immutable: func(r emulator.PushReply) bool { return r.Status == http.StatusForbidden }}.Do(ctx)
}

var _ emulator.NoSetting = (*Demo)(nil)

// NoSetting says why an overwrite by alice is accepted after the fix too.
func (d *Demo) NoSetting() string {
	return "Artifactory has no tag-immutability setting: whoever holds Delete/Overwrite can overwrite, and immutag only prints the permission change"
}
