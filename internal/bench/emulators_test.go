package bench

import (
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers"
)

// acrServer is the sandbox's ACR emulator, nil when it did not start.
func acrServer(sb *sandbox.Sandbox) *acremu.Loopback {
	return acremu.DemoServer(sb.Demo(providers.KindACR))
}

// quayServer is the sandbox's Quay emulator, nil when it did not start.
func quayServer(sb *sandbox.Sandbox) *quayemu.Server {
	if d, ok := sb.Demo(providers.KindQuay).(*quayemu.Demo); ok {
		return d.Server
	}
	return nil
}

// artifactoryServer is the sandbox's Artifactory emulator, nil when it
// did not start.
func artifactoryServer(sb *sandbox.Sandbox) *afemu.Server {
	if d, ok := sb.Demo(providers.KindArtifactory).(*afemu.Demo); ok {
		return d.Server
	}
	return nil
}
