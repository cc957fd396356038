package testutil

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// Gate is an Emitter that holds every repository until Release (or until
// its context ends), so a test can see how far an adapter reads ahead of a
// consumer that does not take repositories.
type Gate struct {
	ctx     context.Context
	release chan struct{}
	arrived chan struct{}

	mu    sync.Mutex
	repos []providers.Repository
}

var _ providers.Emitter = (*Gate)(nil)

// NewGate returns a closed gate tied to ctx.
func NewGate(ctx context.Context) *Gate {
	return &Gate{ctx: ctx, release: make(chan struct{}), arrived: make(chan struct{}, 64)}
}

// Repository waits for Release, then keeps r.
func (g *Gate) Repository(r providers.Repository) error {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.repos = append(g.repos, r)
	return nil
}

// Warn drops warnings.
func (g *Gate) Warn(providers.Warning) {}

// Release lets every waiting and future repository through.
func (g *Gate) Release() { close(g.release) }

// Await waits until n repositories reached the gate.
func (g *Gate) Await(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("fewer than %d repositories reached the emitter", n)
		}
	}
}

// Repos returns the repositories let through so far.
func (g *Gate) Repos() []providers.Repository {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]providers.Repository(nil), g.repos...)
}
