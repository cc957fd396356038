package artifactregistry

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// Demo project and the repositories StartDemo seeds.
const (
	DemoProject = "acme-prod"
	demoScope   = DemoProject + "/us-central1"
	demoRepo    = "web"
	demoTag     = "latest"
)

var demoRepos = []struct {
	location string
	spec     RepoSpec
	tags     []string
}{
	{"us-central1", RepoSpec{Name: "web", Description: "web frontend images", Labels: map[string]string{"team": "web"}}, []string{"latest", "v1.4.0"}},
	{"us-central1", RepoSpec{Name: "releases", ImmutableTags: true, Description: "signed release images"}, []string{"v2.0.0"}},
	{"us-central1", RepoSpec{Name: "dockerhub-mirror", Mode: ModeRemote, Description: "Docker Hub pull-through mirror"}, nil},
	{"us-central1", RepoSpec{Name: "java-libs", Format: "MAVEN", Description: "internal maven artifacts"}, nil},
	{"europe-west1", RepoSpec{Name: "api", Description: "api images"}, []string{"latest", "stable"}},
	{"europe-west1", RepoSpec{Name: "base-images", ImmutableTags: true}, []string{"debian-12"}},
	{"europe-west1", RepoSpec{Name: "all-images", Mode: ModeVirtual, Description: "aggregates api and base-images"}, nil},
}

// Demo is a running emulator seeded for `immutag demo` and the sandbox.
type Demo struct {
	srv  *Server
	addr string
}

var _ emulator.Demo = (*Demo)(nil)

// StartDemo starts an emulator on 127.0.0.1 with project acme-prod in
// us-central1 and europe-west1: standard mutable and immutable docker
// repositories, a remote and a virtual docker repository, and a maven one.
func StartDemo(ctx context.Context) (emulator.Demo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := New(Options{})
	for _, r := range demoRepos {
		if err := s.Seed(DemoProject, r.location, r.spec); err != nil {
			return nil, fmt.Errorf("seed artifact registry demo: %w", err)
		}
		for _, t := range r.tags {
			if err := s.PushTag(DemoProject, r.location, r.spec.Name, t); err != nil {
				return nil, fmt.Errorf("seed artifact registry demo: %w", err)
			}
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("artifact registry demo: listen: %w", err)
	}
	go func() { _ = s.Serve(lis) }()
	return &Demo{srv: s, addr: lis.Addr().String()}, nil
}

// Server returns the underlying emulator (fault injection, call counts).
func (d *Demo) Server() *Server { return d.srv }

// Kind is providers.KindArtifactRegistry.
func (d *Demo) Kind() providers.Kind { return providers.KindArtifactRegistry }

// Provider is a config entry for this emulator. Endpoint is host:port on
// loopback, so the adapter dials plain gRPC without credentials; locations
// are left empty so the adapter discovers them with ListLocations.
func (d *Demo) Provider() config.Provider {
	return config.Provider{
		Name:     "gar-demo",
		Kind:     providers.KindArtifactRegistry,
		Endpoint: d.addr,
		Settings: config.Keys{"projects": []string{DemoProject}},
	}
}

// Env is empty: the emulator needs no credentials.
func (d *Demo) Env() map[string]string { return map[string]string{} }

// OverwriteTarget is a tag that exists in a mutable repository before the fix.
func (d *Demo) OverwriteTarget() (scope, repository, tag string) {
	return demoScope, demoRepo, demoTag
}

// PushTag re-points tag in repository of scope ("PROJECT/LOCATION").
func (d *Demo) PushTag(ctx context.Context, scope, repository, tag string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	project, loc, ok := strings.Cut(scope, "/")
	if !ok || project == "" || loc == "" {
		return fmt.Errorf("push %s:%s: scope %q is not PROJECT/LOCATION", repository, tag, scope)
	}
	return d.srv.PushTag(project, loc, repository, tag)
}

// Close stops the emulator.
func (d *Demo) Close() error {
	d.srv.Stop()
	return nil
}
