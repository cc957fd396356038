// Package fake is an in-memory Provider and Enforcer for tests of the engine
// and the CLI. It follows the same contract as real adapters: streaming,
// fail closed, fixes never loosen, writes are reported and read back.
package fake

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/immutag/immutag/internal/providers"
)

// Repo is one repository held by the fake.
type Repo struct {
	Name string
	providers.Immutability
	DefaultExemption string
	// HoldWrites is passed on as providers.Repository.HoldWrites.
	HoldWrites string
}

// Provider is a fake registry with named scopes.
type Provider struct {
	NameV    string
	KindV    providers.Kind
	mu       sync.Mutex
	scopes   []string
	repos    map[string][]*Repo
	scopeErr map[string]error
	// ScopesErr fails Scopes itself.
	ScopesErr error
	// BreakVerify makes Apply write but read back the old setting.
	BreakVerify bool
	// ReadBackErr makes Apply write, then fail to read the setting back.
	ReadBackErr error
	// PlanErr makes Plan fail (a throttled or denied read of what a fix
	// depends on).
	PlanErr error
	// AfterWrite, when set, runs between the write and the read-back (an
	// interruption landing there).
	AfterWrite func()
	// Writes counts Apply writes.
	Writes int
	// Gate, when set, is received from before each repository is emitted (tests of cancellation).
	Gate chan struct{}
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Enforcer = (*Provider)(nil)
)

// New returns an empty fake provider.
func New(name string, kind providers.Kind) *Provider {
	return &Provider{NameV: name, KindV: kind, repos: map[string][]*Repo{}, scopeErr: map[string]error{}}
}

// Add puts a repository into scope (creating the scope).
func (p *Provider) Add(scope string, r Repo) *Provider {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.repos[scope]; !ok {
		p.scopes = append(p.scopes, scope)
	}
	rc := r
	p.repos[scope] = append(p.repos[scope], &rc)
	return p
}

// FailScope makes listing scope fail with err (the scope still exists).
func (p *Provider) FailScope(scope string, err error) *Provider {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.repos[scope]; !ok {
		p.scopes = append(p.scopes, scope)
		p.repos[scope] = nil
	}
	p.scopeErr[scope] = err
	return p
}

// Get returns a repository's current setting.
func (p *Provider) Get(scope, name string) (providers.Immutability, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.repos[scope] {
		if r.Name == name {
			return r.Immutability, true
		}
	}
	return providers.Immutability{}, false
}

// Name implements providers.Provider.
func (p *Provider) Name() string { return p.NameV }

// Kind implements providers.Provider.
func (p *Provider) Kind() providers.Kind { return p.KindV }

// Scopes implements providers.Provider.
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	if p.ScopesErr != nil {
		return nil, p.ScopesErr
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]providers.Scope, len(p.scopes))
	for i, s := range p.scopes {
		out[i] = providers.Scope{Provider: p.NameV, Kind: p.KindV, Name: s}
	}
	return out, nil
}

// Repositories implements providers.Provider.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	p.mu.Lock()
	err := p.scopeErr[s.Name]
	repos := append([]*Repo(nil), p.repos[s.Name]...)
	p.mu.Unlock()
	if err != nil {
		return err
	}
	for _, r := range repos {
		if p.Gate != nil {
			select {
			case <-p.Gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		p.mu.Lock()
		im := r.Immutability
		p.mu.Unlock()
		if err := e.Repository(providers.Repository{Provider: p.NameV, Kind: p.KindV, Scope: s.Name, Name: r.Name,
			URI: "fake.example/" + r.Name, Immutability: im, DefaultExemption: r.DefaultExemption, HoldWrites: r.HoldWrites}); err != nil {
			return err
		}
	}
	return nil
}

// Ref is the target of a fake change: a repository of a scope.
type Ref struct {
	Scope      string `json:"scope"`
	Repository string `json:"repository"`
}

// Plan implements providers.Enforcer: immutable stays, everything readable becomes immutable.
func (p *Provider) Plan(ctx context.Context, r providers.Repository, _ providers.FixPolicy) (providers.Change, error) {
	if p.PlanErr != nil {
		return providers.Change{}, p.PlanErr
	}
	c := providers.Change{Provider: r.Provider, Kind: r.Kind, Scope: r.Scope, Repository: r.Name, URI: r.URI,
		From: r.Immutability, To: providers.Immutability{Mode: providers.ModeImmutable, Native: "IMMUTABLE"},
		Action: "SetImmutable(" + r.Name + ")", Writes: 1}
	if err := providers.SetRef(&c, Ref{Scope: r.Scope, Repository: r.Name}); err != nil {
		return c, err
	}
	switch r.Mode {
	case providers.ModeImmutable:
		c.Noop, c.Writes = true, 0
	case providers.ModeUnknown, providers.ModeUnsupported:
		return c, fmt.Errorf("cannot plan %s: setting is %s", r.Name, r.Mode)
	}
	return c, nil
}

// Apply implements providers.Enforcer.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	if err := ctx.Err(); err != nil {
		return providers.Result{Change: c}, err
	}
	ref, err := providers.RefOf[Ref](c, p.KindV)
	if err != nil {
		return providers.Result{Change: c}, err
	}
	p.mu.Lock()
	var target *Repo
	for _, r := range p.repos[ref.Scope] {
		if r.Name == ref.Repository {
			target = r
		}
	}
	if target == nil {
		p.mu.Unlock()
		return providers.Result{Change: c}, errors.New("repository not found: " + ref.Repository)
	}
	if c.Noop {
		// The no-op contract of providers.Enforcer: no write, the setting
		// read back.
		after := target.Immutability
		p.mu.Unlock()
		return providers.Result{Change: c, Verified: after.Mode == providers.ModeImmutable, After: after}, nil
	}
	before := target.Immutability
	if !p.BreakVerify {
		target.Immutability = c.To
	}
	p.Writes++
	after := target.Immutability
	p.mu.Unlock()
	o.Write(c, providers.WriteRecord{Call: "SetImmutable", Before: string(before.Mode), After: string(c.To.Mode)})
	o.Progress(c, 1, 1)
	if p.AfterWrite != nil {
		p.AfterWrite()
	}
	if p.ReadBackErr != nil {
		return providers.Result{Change: c, Writes: 1}, fmt.Errorf("%w: %w", providers.ErrReadBack, p.ReadBackErr)
	}
	return providers.Result{Change: c, Writes: 1, Verified: after.Mode == c.To.Mode, After: after}, nil
}
