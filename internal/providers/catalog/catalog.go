// Package catalog is the one explicit kind -> constructor table. It lives
// outside package providers because it imports every adapter.
package catalog

import (
	"context"
	"fmt"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/acr"
	"github.com/immutag/immutag/internal/providers/artifactregistry"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/providers/ecr"
	"github.com/immutag/immutag/internal/providers/harbor"
	"github.com/immutag/immutag/internal/providers/quay"
)

// Constructor builds one adapter from its config entry. It must not call any
// API: credentials and network are touched only when listing starts.
type Constructor func(ctx context.Context, p config.Provider, o providers.Options) (providers.Provider, error)

// constructors maps each supported kind to its adapter. Adding a registry
// means adding one line here.
var constructors = map[string]Constructor{
	providers.KindACR:              acr.New,
	providers.KindArtifactRegistry: artifactregistry.New,
	providers.KindDockerHub:        dockerhub.New,
	providers.KindECR:              ecr.New,
	providers.KindHarbor:           harbor.New,
	providers.KindQuay:             quay.New,
}

// Supported reports whether kind has an adapter in this build.
func Supported(kind string) bool {
	_, ok := constructors[kind]
	return ok
}

// Build returns one Provider per config entry, in config order.
func Build(ctx context.Context, ps []config.Provider, o providers.Options) ([]providers.Provider, error) {
	out := make([]providers.Provider, 0, len(ps))
	for i, p := range ps {
		c, ok := constructors[p.Kind]
		if !ok {
			return nil, fmt.Errorf("providers[%d] (%s): kind %q is not supported by this build", i, p.Name, p.Kind)
		}
		pr, err := c(ctx, p, o)
		if err != nil {
			return nil, fmt.Errorf("provider %q (%s): %w", p.Name, p.Kind, err)
		}
		out = append(out, pr)
	}
	return out, nil
}
