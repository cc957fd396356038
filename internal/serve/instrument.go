package serve

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/immutag/immutag/internal/providers"
)

// Instrument wraps a provider so every operation the engine makes through it
// is counted in m. The wrapper is an Enforcer exactly when p is one, so the
// engine plans fixes for the same providers as without it. Optional
// capabilities beyond Enforcer (DefaultsEnforcer) are not passed through:
// serve never plans repository defaults.
func Instrument(p providers.Provider, m *Metrics, source string) providers.Provider {
	ip := &instrumented{p: p, m: m, source: source}
	if e, ok := p.(providers.Enforcer); ok {
		return &instrumentedEnforcer{instrumented: ip, e: e}
	}
	return ip
}

type instrumented struct {
	p      providers.Provider
	m      *Metrics
	source string
}

// Unwrap gives commands the adapter's optional capabilities: audit's tag
// recording (TagLister, TagHistorian) finds them through providers.As, so
// serve --record records what audit --record does.
func (i *instrumented) Unwrap() providers.Provider { return i.p }

func (i *instrumented) Name() string         { return i.p.Name() }
func (i *instrumented) Kind() providers.Kind { return i.p.Kind() }

func (i *instrumented) Scopes(ctx context.Context) ([]providers.Scope, error) {
	s, err := i.p.Scopes(ctx)
	i.m.call(i.p.Name(), "list_scopes", err)
	return s, err
}

func (i *instrumented) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	err := i.p.Repositories(ctx, s, &countingEmitter{Emitter: e, m: i.m, provider: i.p.Name()})
	i.m.call(i.p.Name(), "list_scope", err)
	return err
}

// countingEmitter notices repositories that could not be read because the
// registry throttled the adapter beyond its retries.
type countingEmitter struct {
	providers.Emitter
	m        *Metrics
	provider string
}

func (c *countingEmitter) Repository(r providers.Repository) error {
	if r.Mode == providers.ModeUnknown && throttledText(r.Error) {
		c.m.apiThrottles.WithLabelValues(c.provider).Inc()
	}
	return c.Emitter.Repository(r)
}

type instrumentedEnforcer struct {
	*instrumented
	e providers.Enforcer
}

var _ providers.Enforcer = (*instrumentedEnforcer)(nil)

func (i *instrumentedEnforcer) Plan(ctx context.Context, r providers.Repository, p providers.FixPolicy) (providers.Change, error) {
	c, err := i.e.Plan(ctx, r, p)
	i.m.call(i.p.Name(), "plan", err)
	return c, err
}

func (i *instrumentedEnforcer) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	return countingApply(ctx, i.e, c, o, i.m, i.source)
}

// countingApply runs Apply with an Observer that also counts each write.
func countingApply(ctx context.Context, e providers.Enforcer, c providers.Change, o providers.Observer, m *Metrics, source string) (providers.Result, error) {
	co := &countingObserver{o: o, m: m, source: source}
	res, err := e.Apply(ctx, c, co)
	// A throttled write already counted through the Observer is not counted
	// again from the error it made Apply return.
	if err != nil && errors.Is(err, providers.ErrThrottled) && !co.throttled.Load() {
		m.apiThrottles.WithLabelValues(c.Provider).Inc()
	}
	return res, err
}

type countingObserver struct {
	o         providers.Observer
	m         *Metrics
	source    string
	throttled atomic.Bool
}

func (c *countingObserver) Write(ch providers.Change, w providers.WriteRecord) {
	if c.m.write(ch, w, c.source) {
		c.throttled.Store(true)
	}
	c.o.Write(ch, w)
}

func (c *countingObserver) Progress(ch providers.Change, done, total int64) {
	c.o.Progress(ch, done, total)
}
