package sandbox

import (
	"context"
	"errors"

	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
)

// moreServers are the emulators of the kinds added after the first six.
type moreServers struct {
	gitlab      *glemu.Server
	nexus       *nxemu.Server
	artifactory *afemu.Server
}

// startMore starts the GitLab, Nexus or Artifactory emulator for b; it
// reports false for any other kind.
func (s *Sandbox) startMore(ctx context.Context, b *backend) (bool, error) {
	var err error
	switch b.kind {
	case glemu.Kind:
		if b.demo, err = glemu.StartDemo(ctx); err != nil {
			return true, err
		}
		d, ok := b.demo.(*glemu.Demo)
		if !ok {
			return true, errors.New("gitlab demo does not expose its server")
		}
		srv := d.Server
		s.more.gitlab = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.Deny(scope, true)
			return nil
		}
	case nxemu.Kind:
		if b.demo, err = nxemu.StartDemo(ctx); err != nil {
			return true, err
		}
		d, ok := b.demo.(*nxemu.Demo)
		if !ok {
			return true, errors.New("nexus demo does not expose its server")
		}
		srv := d.Server
		s.more.nexus = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.Deny(scope, true)
			return nil
		}
	case afemu.Kind:
		if b.demo, err = afemu.StartDemo(ctx); err != nil {
			return true, err
		}
		d, ok := b.demo.(*afemu.Demo)
		if !ok {
			return true, errors.New("artifactory demo does not expose its server")
		}
		srv := d.Server
		s.more.artifactory = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.Deny(scope, true)
			return nil
		}
	default:
		return false, nil
	}
	return true, nil
}

// seedMore fills the GitLab, Nexus or Artifactory emulator with n
// generated repositories; it reports false for any other kind.
func (s *Sandbox) seedMore(b *backend, n int) (bool, error) {
	switch b.kind {
	case glemu.Kind:
		return true, seedGitLab(s.more.gitlab, n)
	case nxemu.Kind:
		return true, seedNexus(s.more.nexus, n)
	case afemu.Kind:
		return true, seedArtifactory(s.more.artifactory, n)
	}
	return false, nil
}

// Artifactory is the running Artifactory emulator, or nil.
func (s *Sandbox) Artifactory() *afemu.Server { return s.more.artifactory }
