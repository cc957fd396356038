// Package catalog is the one explicit table of registry kinds. It lives
// outside package providers because it imports every adapter.
//
// Adding a kind is one Entry in entries: the adapter package supplies its
// config Spec (keys, validation, secret hints) and its constructor, the
// emulator package its seeded demo; config, the CLI, the demo and the
// sandbox learn the kind from here.
package catalog

import (
	"context"
	"fmt"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/acr"
	"github.com/immutag/immutag/internal/providers/artifactory"
	"github.com/immutag/immutag/internal/providers/artifactregistry"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/ecr"
	"github.com/immutag/immutag/internal/providers/ghcr"
	"github.com/immutag/immutag/internal/providers/gitlab"
	"github.com/immutag/immutag/internal/providers/harbor"
	"github.com/immutag/immutag/internal/providers/nexus"
	"github.com/immutag/immutag/internal/providers/oci"
	"github.com/immutag/immutag/internal/providers/quay"
)

// Constructor builds one adapter from its config entry. It must not call any
// API: credentials and network are touched only when listing starts.
type Constructor func(ctx context.Context, p config.Provider, o providers.Options) (providers.Provider, error)

// adapter's constructor, both from the adapter package.
type Entry struct {
	Spec *config.Spec
	New  Constructor
	// Emulator starts the kind's seeded demo emulator (the emulator
	// package's StartDemo) for `immutag demo` and the sandbox.
	Emulator func(context.Context) (emulator.Demo, error)
}

// entries are the supported kinds in documentation order (error messages,
// --help and the sandbox list them in this order).
var entries = []Entry{
	{Spec: ecr.Spec, New: ecr.New, Emulator: ecremu.StartDemo},
	{Spec: artifactregistry.Spec, New: artifactregistry.New, Emulator: aremu.StartDemo},
	{Spec: acr.Spec, New: acr.New, Emulator: acremu.StartDemo},
	{Spec: dockerhub.Spec, New: dockerhub.New, Emulator: hubemu.StartDemo},
	{Spec: quay.Spec, New: quay.New, Emulator: quayemu.StartDemo},
	{Spec: harbor.Spec, New: harbor.New, Emulator: harboremu.StartDemo},
	{Spec: gitlab.Spec, New: gitlab.New, Emulator: glemu.StartDemo},
	{Spec: nexus.Spec, New: nexus.New, Emulator: nxemu.StartDemo},
	{Spec: artifactory.Spec, New: artifactory.New, Emulator: afemu.StartDemo},
	{Spec: oci.Spec, New: oci.New, Emulator: ociemu.StartDemo},
	{Spec: ghcr.Spec, New: ghcr.New, Emulator: ghcremu.StartDemo},
}

// Kinds is every kind's config Spec, for config.Decode and Validate.
func Kinds() config.Kinds {
	out := make(config.Kinds, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Spec)
	}
	return out
}

// Emulators is every kind's demo emulator, in documentation order, for
// the demo and sandbox.Options.Emulators.
func Emulators() []emulator.Fixture {
	out := make([]emulator.Fixture, 0, len(entries))
	for _, e := range entries {
		out = append(out, emulator.Fixture{Kind: e.Spec.Kind, Start: e.Emulator})
	}
	return out
}

// Supported reports whether kind has an adapter in this build.
func Supported(kind providers.Kind) bool { return lookup(kind) != nil }

func lookup(kind providers.Kind) *Entry {
	for i := range entries {
		if entries[i].Spec.Kind == kind {
			return &entries[i]
		}
	}
	return nil
}

// Build returns one Provider per config entry, in config order.
func Build(ctx context.Context, ps []config.Provider, o providers.Options) ([]providers.Provider, error) {
	out := make([]providers.Provider, 0, len(ps))
	for i, p := range ps {
		e := lookup(p.Kind)
		if e == nil {
			return nil, fmt.Errorf("providers[%d] (%s): kind %q is not supported by this build", i, p.Name, p.Kind)
		}
		pr, err := e.New(ctx, p, o)
		if err != nil {
			return nil, fmt.Errorf("provider %q (%s): %w", p.Name, p.Kind, err)
		}
		out = append(out, pr)
	}
	return out, nil
}
