// Package emulator holds what every wire-level registry emulator shares:
// fault injection settings, call counters and the small Demo contract the
// demo and sandbox use to drive any emulator the same way.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
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

	// The sandbox's hooks: the same for every kind, so that the sandbox
	// and the demo iterate the catalog's Fixtures and name no kind.

	// Endpoint is where the emulator serves, as a person would reach it
	// (a URL; grpc://host:port for a gRPC API).
	Endpoint() string
	// Calls counts the API calls the emulator answered, by operation.
	Calls() *Counter
	// SetFaults replaces the injected faults.
	SetFaults(Faults)
	// Deny makes one scope answer access denied; scope is in the kind's
	// own syntax (see sandbox.Deny). A scope the Provider entry does not
	// audit is refused: denying it would change nothing and hide a typo.
	Deny(scope string) error
	// Grow adds a generated estate, deterministic and in a realistic mix
	// of modes, until the adapter would report total repositories; it
	// adds nothing when the demo data holds that many already. Provider
	// names whatever Grow added that the entry must list.
	Grow(total int) error
}

// Fixture is one kind's seeded demo emulator. The kind's line in the
// providers catalog names it, so the demo and the sandbox list no kinds.
type Fixture struct {
	Kind providers.Kind
	// Start starts the emulator on 127.0.0.1, seeded with the demo data;
	// it runs until Close (ctx bounds the start only).
	Start func(ctx context.Context) (Demo, error)
}

// NoSetting is implemented by demos of registries that have no
// tag-immutability setting (a plain distribution registry, ghcr.io): a push
// over a tag is accepted before and after a fix, and only the tag ledger
// notices it. NoSetting says why, for the demo's output.
type NoSetting interface {
	NoSetting() string
}

// Audited refuses value v of a Deny scope when the entry's list under key
// is not empty and lacks it ("region", "eu-north-1", "regions"). An empty
// list audits everything, so any value passes.
func Audited(p config.Provider, what, v, key string) error {
	ks, _ := p.Settings.(config.Keys)
	l, _ := ks[key].([]string)
	if len(l) == 0 || slices.Contains(l, v) {
		return nil
	}
	return fmt.Errorf("%s %q is not audited by the sandbox (its %s: %s)", what, v, key, strings.Join(l, ", "))
}

// GroupSize is how many generated repositories share one organisation,
// project or repository in a Grow of n: at most most, and small estates
// still get eight groups so that every rule set shows up.
func GroupSize(n, most int) int { return min(most, max(5, (n+7)/8)) }
