package acr

import (
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// TestHermeticRefusesDefaultCredential: without username_env/password_env a
// hermetic run has no credential to use, DefaultAzureCredential being made
// of the process environment and instance metadata.
func TestHermeticRefusesDefaultCredential(t *testing.T) {
	p := config.Provider{Name: "a", Kind: providers.KindACR, Settings: &Settings{Registries: []string{"r.azurecr.io"}}}
	for _, hermetic := range []bool{false, true} {
		pr, err := New(t.Context(), p, providers.Options{Hermetic: hermetic})
		if err != nil {
			t.Fatal(err)
		}
		_, err = pr.(*Provider).newCredential()
		if got := err != nil && strings.Contains(err.Error(), "hermetic run"); got != hermetic {
			t.Errorf("hermetic=%v: newCredential error %v", hermetic, err)
		}
	}
}
