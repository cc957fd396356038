// Package sandbox starts the registry emulators on loopback, seeded with
// the demo's hand-made repositories (every mode each registry has) and, on
// request, a larger generated estate, with fault injection and denied scopes.
//
// It backs `immutag sandbox` (hands-on use) and the benchmark suite: the
// same Config drives the real adapters unchanged, and Calls reads every
// emulator's call counters so a run can be priced in API calls.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// MaxSeed bounds Options.Seed: the emulators keep everything in memory.
const MaxSeed = 200_000

// Options configure a sandbox. With only Emulators set it starts them all with
// the demo data only and no faults.
type Options struct {
	// Emulators are the kinds the sandbox can start, in report order:
	// catalog.Emulators() (the sandbox cannot import the catalog, which
	// imports every adapter). Required.
	Emulators []emulator.Fixture
	// Kinds limits which of them start (providers.Kind* values); empty
	// means all.
	Kinds []providers.Kind
	// Seed, when above the demo's own count, fills every registry up to
	// Seed repositories with a generated estate in a realistic mix of modes.
	Seed int
	// Faults are injected into the emulators named by FaultKinds (all when
	// FaultKinds is empty).
	Faults     emulator.Faults
	FaultKinds []providers.Kind
	// Deny makes these scopes answer access denied.
	Deny []Deny
	// ACRWritesPerMinute overrides the ACR emulator's write limit (Premium,
	// 2,000/min, by default); negative disables write throttling.
	ACRWritesPerMinute int
}

// Deny names a scope to refuse: a provider (its configured name or its
// kind) and a scope string in that kind's format (ecr ACCOUNT/REGION,
// artifactregistry PROJECT or PROJECT/LOCATION, acr the login server,
// dockerhub and quay the namespace, harbor the project).
type Deny struct {
	Provider string
	Scope    string
}

func (d Deny) String() string { return d.Provider + "/" + d.Scope }

// ParseDeny reads PROVIDER/SCOPE; the scope may itself contain slashes.
func ParseDeny(s string) (Deny, error) {
	p, scope, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || p == "" || scope == "" {
		return Deny{}, fmt.Errorf("deny %q: want PROVIDER/SCOPE, e.g. aws-demo/123456789012/us-east-1 or quay/acme", s)
	}
	return Deny{Provider: p, Scope: scope}, nil
}

// Endpoint describes one running emulator for humans.
type Endpoint struct {
	Provider string // configured name
	Kind     providers.Kind
	URL      string
}

// backend is one running emulator.
type backend struct {
	kind providers.Kind
	demo emulator.Demo
}

// Sandbox is a set of running, seeded emulators.
type Sandbox struct {
	backends []*backend
}

// Start starts the emulators, seeds them and applies faults and denials.
// They listen on 127.0.0.1 and run until Close; ctx only bounds the start.
func Start(ctx context.Context, o Options) (*Sandbox, error) {
	if o.Seed < 0 || o.Seed > MaxSeed {
		return nil, fmt.Errorf("sandbox: seed %d: want 0..%d", o.Seed, MaxSeed)
	}
	if len(o.Emulators) == 0 {
		return nil, errors.New("sandbox: no emulators to start (Options.Emulators is empty)")
	}
	known := make([]providers.Kind, 0, len(o.Emulators))
	for _, fx := range o.Emulators {
		known = append(known, fx.Kind)
	}
	for _, k := range append(slices.Clone(o.Kinds), o.FaultKinds...) {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("sandbox: unknown kind %q (want one of %s)", k, kindList(known))
		}
	}
	s := &Sandbox{}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	for _, fx := range o.Emulators {
		k := fx.Kind
		if len(o.Kinds) > 0 && !slices.Contains(o.Kinds, k) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		// The sandbox lives until Close, not until ctx ends.
		d, err := fx.Start(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("sandbox: start %s emulator: %w", k, err)
		}
		s.backends = append(s.backends, &backend{kind: k, demo: d})
		if w, isACR := d.(interface{ SetWritesPerMinute(int) }); isACR && o.ACRWritesPerMinute != 0 {
			w.SetWritesPerMinute(o.ACRWritesPerMinute)
		}
		if err := d.Grow(o.Seed); err != nil {
			return nil, fmt.Errorf("sandbox: seed %s emulator: %w", k, err)
		}
		if len(o.FaultKinds) == 0 || slices.Contains(o.FaultKinds, k) {
			d.SetFaults(o.Faults)
		}
	}
	for _, d := range o.Deny {
		if err := s.DenyScope(d); err != nil {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// Config is a ready configuration for every running emulator. Credentials
// are environment variable names (see Env); no secret is in it.
func (s *Sandbox) Config(now time.Time) *config.Config {
	cfg := &config.Config{Version: config.CurrentVersion, Policy: Policy(now)}
	for _, b := range s.backends {
		p := b.demo.Provider()
		if ks, ok := p.Settings.(config.Keys); ok {
			p.Settings = cloneKeys(ks)
		}
		cfg.Providers = append(cfg.Providers, p)
	}
	// A sandbox of only some kinds must not name absent providers: config
	// validation refuses an exemption for a provider that does not exist.
	kept := cfg.Policy.Exemptions[:0]
	for _, e := range cfg.Policy.Exemptions {
		if e.Provider == "*" || e.Provider == "" || slices.ContainsFunc(cfg.Providers, func(p config.Provider) bool { return p.Name == e.Provider }) {
			kept = append(kept, e)
		}
	}
	cfg.Policy.Exemptions = kept
	return cfg
}

// Policy is the sandbox's policy: latest may stay mutable, sandbox/*
// repositories are exempt for three months, and so are the Quay namespace
// whose instance lacks the immutability feature and the Artifactory
// repositories (nothing can fix them from here), so every status shows up
// and a fix leaves no drift behind.
func Policy(now time.Time) config.Policy {
	day := now.UTC().Truncate(24 * time.Hour)
	return config.Policy{
		MutableTagsAllowed: []string{"latest"},
		Exemptions: []config.Exemption{
			{Provider: "*", Repository: "sandbox/*", Reason: "scratch space, rebuilt nightly", Expires: day.AddDate(0, 3, 0)},
			{Provider: "quay-demo", Scope: "legacy", Repository: "*", Reason: "Quay upgrade scheduled; FEATURE_IMMUTABLE_TAGS off until then", Expires: day.AddDate(0, 6, 0)},
			// Registries with no tag-immutability setting: what a team can do
			// is record the tags and gate on overwrites, and say so.
			{Provider: "oci-demo", Repository: "*", Reason: NoSettingReason, Expires: day.AddDate(1, 0, 0)},
			{Provider: "ghcr-demo", Repository: "*", Reason: NoSettingReason, Expires: day.AddDate(1, 0, 0)},
			// Artifactory has no setting to fix: its fixes are printed
			// permission changes the platform team makes by hand.
			{Provider: "artifactory-demo", Repository: "*", Reason: "Delete/Overwrite holders under review by the platform team (immutag fix prints the permission changes)", Expires: day.AddDate(0, 3, 0)},
		},
	}
}

// Env holds the environment variables the Config names: fake credentials
// for the emulators and what an SDK needs to reach its emulator.
func (s *Sandbox) Env() map[string]string {
	env := map[string]string{}
	for _, b := range s.backends {
		for k, v := range b.demo.Env() {
			env[k] = v
		}
	}
	return env
}

// Endpoints lists the running emulators in report order.
func (s *Sandbox) Endpoints() []Endpoint {
	out := make([]Endpoint, 0, len(s.backends))
	for _, b := range s.backends {
		out = append(out, Endpoint{Provider: b.demo.Provider().Name, Kind: b.kind, URL: b.demo.Endpoint()})
	}
	return out
}

// Calls returns every emulator's call counts, by kind then operation.
func (s *Sandbox) Calls() map[providers.Kind]map[string]int64 {
	out := map[providers.Kind]map[string]int64{}
	for _, b := range s.backends {
		out[b.kind] = b.demo.Calls().Snapshot()
	}
	return out
}

// ResetCalls zeroes every call counter.
func (s *Sandbox) ResetCalls() {
	for _, b := range s.backends {
		b.demo.Calls().Reset()
	}
}

// SetFaults replaces the fault injection of one emulator ("" for all).
func (s *Sandbox) SetFaults(kind providers.Kind, f emulator.Faults) error {
	found := false
	for _, b := range s.backends {
		if kind == "" || b.kind == kind {
			b.demo.SetFaults(f)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("sandbox: no %q emulator is running", kind)
	}
	return nil
}

// DenyScope makes one scope answer access denied.
func (s *Sandbox) DenyScope(d Deny) error {
	names := make([]string, 0, len(s.backends))
	for _, b := range s.backends {
		name := b.demo.Provider().Name
		if d.Provider == name || d.Provider == string(b.kind) {
			if err := b.demo.Deny(d.Scope); err != nil {
				return fmt.Errorf("sandbox: deny %s: %w", d, err)
			}
			return nil
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return fmt.Errorf("sandbox: deny %s: no running emulator is named %q (want one of %s, or a kind)", d, d.Provider, strings.Join(names, ", "))
}

// Demo returns the running emulator of kind (nil when that kind did not
// start), for benchmarks and tests that seed or inspect it directly.
func (s *Sandbox) Demo(kind providers.Kind) emulator.Demo {
	for _, b := range s.backends {
		if b.kind == kind {
			return b.demo
		}
	}
	return nil
}

// Close stops every emulator.
func (s *Sandbox) Close() error {
	var errs []error
	for _, b := range s.backends {
		if err := b.demo.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.kind, err))
		}
	}
	s.backends = nil
	return errors.Join(errs...)
}

// cloneKeys copies ks deeply enough that a caller may change the lists.
func cloneKeys(ks config.Keys) config.Keys {
	out := make(config.Keys, len(ks))
	for k, v := range ks {
		if l, ok := v.([]string); ok {
			v = slices.Clone(l)
		}
		out[k] = v
	}
	return out
}

func kindList(ks []providers.Kind) string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
