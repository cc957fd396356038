package artifactregistry

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// TestHermeticNeedsLoopback: Application Default Credentials come from the
// process environment and instance metadata, so a hermetic run reaches only
// a plain-gRPC loopback endpoint.
func TestHermeticNeedsLoopback(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		ok       bool
	}{{"", false}, {"artifactregistry.googleapis.com:443", false}, {"127.0.0.1:9443", true}} {
		p := config.Provider{Name: "g", Kind: providers.KindArtifactRegistry, Endpoint: c.endpoint, Settings: &Settings{Projects: []string{"p"}}}
		_, err := New(t.Context(), p, providers.Options{Hermetic: true})
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "hermetic run")) {
			t.Errorf("endpoint %q: %v", c.endpoint, err)
		}
	}
}
