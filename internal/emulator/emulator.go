// Package emulator holds what every wire-level registry emulator shares:
// fault injection settings, call counters and the small Demo contract the
// demo and sandbox use to drive any emulator the same way.
package emulator

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Faults configures fault injection. The zero value injects nothing.
type Faults struct {
	// Latency is added to every API call.
	Latency time.Duration
	// ErrorRate in [0,1] is the share of calls answered with a server error.
	ErrorRate float64
	// ThrottleRate in [0,1] is the share of calls answered with the registry's
	// throttling response (HTTP 429 + Retry-After, or ThrottlingException).
	ThrottleRate float64
	// RetryAfter is the delay advertised on throttled answers.
	RetryAfter time.Duration
	// PageSize caps list pages (0 = the registry's own default).
	PageSize int
	// Seed makes ErrorRate/ThrottleRate draws repeatable.
	Seed uint64
}

// Injector draws fault decisions from Faults, safely for concurrent use.
type Injector struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

// NewInjector returns an Injector for f.
func NewInjector(f Faults) *Injector {
	return &Injector{f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
}

// Set replaces the fault settings (tests change them mid-run).
func (in *Injector) Set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.f = f
	in.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// Faults returns the current settings.
func (in *Injector) Faults() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.f
}

// Decision is what to do with one call.
type Decision int

// Decisions, in the order they are drawn.
const (
	Pass Decision = iota
	Throttle
	Fail
)

// Before sleeps for the configured latency (or until ctx ends) and decides
// whether the call is throttled, failed or passed through.
func (in *Injector) Before(ctx context.Context) Decision {
	in.mu.Lock()
	f := in.f
	var t, e float64
	if f.ThrottleRate > 0 || f.ErrorRate > 0 {
		t, e = in.rng.Float64(), in.rng.Float64()
	}
	in.mu.Unlock()
	if f.Latency > 0 {
		timer := time.NewTimer(f.Latency)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
	switch {
	case f.ThrottleRate > 0 && t < f.ThrottleRate:
		return Throttle
	case f.ErrorRate > 0 && e < f.ErrorRate:
		return Fail
	}
	return Pass
}

// Counter counts API calls by operation name, safely for concurrent use.
type Counter struct {
	mu sync.Mutex
	m  map[string]int64
}

// Inc adds one call of op.
func (c *Counter) Inc(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[op]++
}

// Get returns the count for op.
func (c *Counter) Get(op string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[op]
}

// Snapshot returns a copy of all counts.
func (c *Counter) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// Ops returns the operation names seen, sorted.
func (c *Counter) Ops() []string {
	s := c.Snapshot()
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Reset zeroes every count.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// ErrTagImmutable is returned (wrapped) by Demo.PushTag when the emulator
// refused to overwrite an existing tag because it is immutable.
var ErrTagImmutable = errors.New("tag is immutable")

// Demo is a running, seeded emulator that the demo and sandbox drive.
type Demo interface {
	// Kind is the registry kind (providers.Kind* value).
	Kind() providers.Kind
	// Provider is a config entry pointing at this emulator.
	Provider() config.Provider
	// Env holds the environment variables (credentials) the entry names.
	Env() map[string]string
	// OverwriteTarget names a repository (scope, name) and a tag that exists
	// and is mutable before the fix, for the "overwrite refused" step.
	OverwriteTarget() (scope, repository, tag string)
	// PushTag pushes (or re-points) tag in repository to a new image. After
	// the fix it must fail with an error wrapping ErrTagImmutable.
	PushTag(ctx context.Context, scope, repository, tag string) error
	// Close stops the emulator.
	Close() error
}

// NoSetting is implemented by demos of registries that have no
// tag-immutability setting (a plain distribution registry, ghcr.io): a push
// over a tag is accepted before and after a fix, and only the tag ledger
// notices it. NoSetting says why, for the demo's output.
type NoSetting interface {
	NoSetting() string
}
