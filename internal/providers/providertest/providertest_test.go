package providertest

import (
	"context"
	"fmt"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

// memProvider lists n generated repositories from one scope; with leak set
// it keeps every repository it emitted, as a non-streaming adapter would.
type memProvider struct {
	n    int
	leak bool
	kept []providers.Repository
}

func (p *memProvider) Name() string         { return "mem" }
func (p *memProvider) Kind() providers.Kind { return "mem" }
func (p *memProvider) Scopes(context.Context) ([]providers.Scope, error) {
	return []providers.Scope{{Provider: "mem", Kind: "mem", Name: "s"}}, nil
}

func (p *memProvider) Repositories(ctx context.Context, _ providers.Scope, e providers.Emitter) error {
	for i := range p.n {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := providers.Repository{Provider: "mem", Kind: "mem", Scope: "s", Name: fmt.Sprintf("repo-%06d", i),
			URI: fmt.Sprintf("registry.example.com/s/repo-%06d", i), Immutability: providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}}
		if p.leak {
			p.kept = append(p.kept, r)
		}
		if err := e.Repository(r); err != nil {
			return err
		}
	}
	return nil
}

// TestStreamingCheckTellsLeakFromStreaming: the streaming measure passes a
// listing that keeps nothing and fails one that keeps every repository.
func TestStreamingCheckTellsLeakFromStreaming(t *testing.T) {
	growth := func(leak bool) int64 {
		small := retained(t, &Env{Provider: &memProvider{n: 100, leak: leak}}, 100)
		large := retained(t, &Env{Provider: &memProvider{n: 2000, leak: leak}}, 2000)
		return large - small
	}
	if g := growth(false); g > 512<<10 {
		t.Errorf("a streaming listing measured %d KiB of growth", g>>10)
	}
	if g := growth(true); g <= 512<<10 {
		t.Errorf("a listing that keeps every repository measured only %d KiB of growth", g>>10)
	}
}
