package cli

import (
	"context"

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
)

// demoBackends starts each registry emulator the demo drives, in report order.
var demoBackends = []func(context.Context) (emulator.Demo, error){
	ecremu.StartDemo,
	aremu.StartDemo,
	acremu.StartDemo,
	hubemu.StartDemo,
	quayemu.StartDemo,
	harboremu.StartDemo,
	glemu.StartDemo,
	nxemu.StartDemo,
	afemu.StartDemo,
	ociemu.StartDemo,
	ghcremu.StartDemo,
}
