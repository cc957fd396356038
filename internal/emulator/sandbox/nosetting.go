package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/emulator"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	"github.com/immutag/immutag/internal/providers"
)

// The registries below have no tag-immutability setting: their generated
// estates are only repositories with tags, all reported unsupported.

// startNoSetting starts the oci or ghcr demo into b.
func (s *Sandbox) startNoSetting(ctx context.Context, b *backend) error {
	var err error
	switch b.kind {
	case providers.KindOCI:
		if b.demo, err = ociemu.StartDemo(ctx); err != nil {
			return err
		}
		d, ok := b.demo.(*ociemu.Demo)
		if !ok {
			return errors.New("oci demo does not expose its server")
		}
		srv := d.Server
		s.oci = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			if !strings.EqualFold(scope, d.Host()) {
				return fmt.Errorf("oci scope %q: the sandbox registry is %s", scope, d.Host())
			}
			srv.SetDenied(true)
			return nil
		}
	case providers.KindGHCR:
		if b.demo, err = ghcremu.StartDemo(ctx); err != nil {
			return err
		}
		d, ok := b.demo.(*ghcremu.Demo)
		if !ok {
			return errors.New("ghcr demo does not expose its server")
		}
		srv := d.Server
		s.ghcr = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.Deny(scope, true)
			return nil
		}
	}
	return nil
}

// seedOCI adds n repositories of one tag each, 50 per team/ prefix.
func seedOCI(srv *ociemu.Server, n int) error {
	for i := range n {
		if _, err := srv.Seed(fmt.Sprintf("gen-%02d/svc-%05d", i/50%100, i), "v1"); err != nil {
			return err
		}
	}
	return nil
}

// seedGHCR adds n packages to the demo organisation, each with a release
// and a latest tag on one version.
func seedGHCR(srv *ghcremu.Server, n int) error {
	for i := range n {
		if _, err := srv.Push("acme", fmt.Sprintf("gen/svc-%05d", i), "1.0.0", "latest"); err != nil {
			return err
		}
	}
	return nil
}

// noSetting reports whether kind's emulator stands for a registry without
// a tag-immutability setting.
func (s *Sandbox) noSetting(kind providers.Kind) bool {
	for _, b := range s.backends {
		if b.kind == kind {
			_, ok := b.demo.(emulator.NoSetting)
			return ok
		}
	}
	return false
}

// NoSettingReason is the exemption reason the sandbox policy gives the
// registries that have no tag-immutability setting.
const NoSettingReason = "no tag-immutability setting exists: tags are recorded (audit --record) and CI fails on an overwrite (--fail-on-overwrite)"
