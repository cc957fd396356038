package faultmatrix

import (
	"testing"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// TestMatrixCoversEveryKind: a kind registered in the catalog is not done
// until the fault matrix runs against it (docs/architecture.md, step 7).
func TestMatrixCoversEveryKind(t *testing.T) {
	have := map[providers.Kind]bool{}
	for _, k := range kinds {
		have[k.name] = true
	}
	for _, spec := range catalog.Kinds() {
		if !have[spec.Kind] {
			t.Errorf("kind %s has no fault-matrix fixture: add one to kinds in matrix_test.go", spec.Kind)
		}
		delete(have, spec.Kind)
	}
	for k := range have {
		t.Errorf("the fault matrix names kind %s, which the catalog does not register", k)
	}
}
