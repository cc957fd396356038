// Package sandbox starts all six registry emulators on loopback, seeded with
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
	acremu "github.com/immutag/immutag/internal/emulator/acr"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	harboremu "github.com/immutag/immutag/internal/emulator/harbor"
	ociemu "github.com/immutag/immutag/internal/emulator/oci"
	quayemu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
)

// MaxSeed bounds Options.Seed: the emulators keep everything in memory.
const MaxSeed = 200_000

// Options configure a sandbox. The zero value starts all six emulators with
// the demo data only and no faults.
type Options struct {
	// Kinds limits which emulators start (providers.Kind* values); empty
	// means all six.
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

// backend is one running emulator with the hooks the sandbox needs.
type backend struct {
	kind     providers.Kind
	demo     emulator.Demo
	provider config.Provider
	calls    func() map[string]int64
	reset    func()
	faults   func(emulator.Faults)
	deny     func(scope string) error
	endpoint string
}

// Sandbox is a set of running, seeded emulators.
type Sandbox struct {
	backends []*backend
	ecr      *ecremu.Server
	ar       *aremu.Server
	acr      *acremu.Server
	hub      *hubemu.Server
	quay     *quayemu.Server
	harbor   *harboremu.Server
	oci      *ociemu.Server
	ghcr     *ghcremu.Server
	more     moreServers
}

// Start starts the emulators, seeds them and applies faults and denials.
// They listen on 127.0.0.1 and run until Close; ctx only bounds the start.
func Start(ctx context.Context, o Options) (*Sandbox, error) {
	if o.Seed < 0 || o.Seed > MaxSeed {
		return nil, fmt.Errorf("sandbox: seed %d: want 0..%d", o.Seed, MaxSeed)
	}
	for _, k := range append(slices.Clone(o.Kinds), o.FaultKinds...) {
		if !slices.Contains(providers.Kinds, k) {
			return nil, fmt.Errorf("sandbox: unknown kind %q (want one of %s)", k, providers.KindList())
		}
	}
	kinds := o.Kinds
	if len(kinds) == 0 {
		kinds = providers.Kinds
	}
	s := &Sandbox{}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	for _, k := range providers.Kinds {
		if !slices.Contains(kinds, k) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		b, err := s.start(ctx, k, o)
		if err != nil {
			if b != nil && b.demo != nil {
				_ = b.demo.Close()
			}
			return nil, fmt.Errorf("sandbox: start %s emulator: %w", k, err)
		}
		s.backends = append(s.backends, b)
		if n := o.Seed - demoRepositories[k]; n > 0 {
			if err := b.seed(s, n); err != nil {
				return nil, fmt.Errorf("sandbox: seed %s emulator: %w", k, err)
			}
		}
		if len(o.FaultKinds) == 0 || slices.Contains(o.FaultKinds, k) {
			b.faults(o.Faults)
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

// demoRepositories is how many repositories each StartDemo seeds that the
// adapter reports (the Artifact Registry demo also holds a maven repository,
// which is not audited). Seed counts them towards its total.
var demoRepositories = map[providers.Kind]int{
	providers.KindECR:              8,
	providers.KindArtifactRegistry: 6,
	providers.KindACR:              4,
	providers.KindDockerHub:        5,
	providers.KindQuay:             5,
	providers.KindHarbor:           7,
	providers.KindOCI:              3,
	providers.KindGHCR:             3,
	providers.KindGitLab:           5,
	providers.KindNexus:            5,
	providers.KindArtifactory:      6,
}

func (s *Sandbox) start(ctx context.Context, kind providers.Kind, o Options) (*backend, error) {
	b := &backend{kind: kind}
	if ok, err := s.startMore(ctx, b); ok {
		if err != nil {
			return b, err
		}
		b.provider = b.demo.Provider()
		b.endpoint = b.provider.Endpoint
		return b, nil
	}
	var err error
	switch kind {
	case providers.KindECR:
		if b.demo, err = ecremu.StartDemo(ctx); err != nil {
			return nil, err
		}
		srv := ecremu.DemoServer(b.demo)
		if srv == nil {
			return b, errors.New("ecr demo does not expose its server")
		}
		s.ecr = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			acct, region, ok := strings.Cut(scope, "/")
			if !ok || acct == "" || region == "" || strings.Contains(region, "/") {
				return fmt.Errorf("ecr scope %q: want ACCOUNT/REGION", scope)
			}
			srv.Deny(acct, region, "*")
			return nil
		}
	case providers.KindArtifactRegistry:
		if b.demo, err = aremu.StartDemo(ctx); err != nil {
			return nil, err
		}
		d, ok := b.demo.(*aremu.Demo)
		if !ok {
			return b, errors.New("artifact registry demo does not expose its server")
		}
		srv := d.Server()
		s.ar = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			project, loc, _ := strings.Cut(scope, "/")
			if project == "" || strings.Contains(loc, "/") {
				return fmt.Errorf("artifactregistry scope %q: want PROJECT or PROJECT/LOCATION", scope)
			}
			srv.Deny(project, loc)
			return nil
		}
	case providers.KindACR:
		// The ACR demo stops when its context ends; the sandbox lives until Close.
		if b.demo, err = acremu.StartDemo(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
		srv := acremu.DemoServer(b.demo)
		if srv == nil {
			return b, errors.New("acr demo does not expose its server")
		}
		s.acr = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		if o.ACRWritesPerMinute != 0 {
			srv.SetWritesPerMinute(o.ACRWritesPerMinute)
		}
		b.deny = func(scope string) error {
			if !strings.EqualFold(scope, srv.LoginServer()) {
				return fmt.Errorf("acr scope %q: the sandbox registry is %s", scope, srv.LoginServer())
			}
			srv.Deny("registry:catalog")
			return nil
		}
	case providers.KindDockerHub:
		if b.demo, err = hubemu.StartDemo(ctx); err != nil {
			return nil, err
		}
		hs, ok := b.demo.(interface{ Server() *hubemu.Server })
		if !ok {
			return b, errors.New("docker hub demo does not expose its server")
		}
		srv := hs.Server()
		s.hub = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.DenyNamespace(scope, 0)
			return nil
		}
	case providers.KindQuay:
		if b.demo, err = quayemu.StartDemo(ctx); err != nil {
			return nil, err
		}
		d, ok := b.demo.(*quayemu.Demo)
		if !ok {
			return b, errors.New("quay demo does not expose its server")
		}
		srv := d.Server
		s.quay = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			srv.Deny(scope, true)
			return nil
		}
	case providers.KindHarbor:
		if b.demo, err = harboremu.StartDemo(ctx); err != nil {
			return nil, err
		}
		d, ok := b.demo.(*harboremu.Demo)
		if !ok {
			return b, errors.New("harbor demo does not expose its server")
		}
		srv := d.Server
		s.harbor = srv
		b.calls, b.reset, b.faults = srv.Calls().Snapshot, srv.Calls().Reset, srv.SetFaults
		b.deny = func(scope string) error {
			// With no projects configured every project is audited:
			// check the name against the projects that exist.
			if names := srv.ProjectNames(); !slices.Contains(names, scope) {
				return fmt.Errorf("project %q does not exist in the sandbox's Harbor (its projects: %s)", scope, strings.Join(names, ", "))
			}
			srv.Deny(scope, true)
			return nil
		}
	case providers.KindOCI, providers.KindGHCR:
		if err := s.startNoSetting(ctx, b); err != nil {
			return b, err
		}
	}
	b.provider = b.demo.Provider()
	b.endpoint = b.provider.Endpoint
	if kind == providers.KindACR {
		b.endpoint = "https://" + s.acr.LoginServer()
	}
	if kind == providers.KindArtifactRegistry {
		b.endpoint = "grpc://" + b.endpoint
	}
	return b, nil
}

// Config is a ready configuration for every running emulator. Credentials
// are environment variable names (see Env); no secret is in it.
func (s *Sandbox) Config(now time.Time) *config.Config {
	cfg := &config.Config{Version: config.CurrentVersion, Policy: Policy(now)}
	for _, b := range s.backends {
		p := b.provider
		p.Settings = cloneKeys(b.keys())
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

// Env holds the environment variables the Config names (fake credentials
// for the emulators) and what the AWS SDK needs to reach its emulator.
func (s *Sandbox) Env() map[string]string {
	env := map[string]string{}
	for _, b := range s.backends {
		for k, v := range b.demo.Env() {
			env[k] = v
		}
	}
	if s.ecr != nil {
		// Keep the SDK from probing instance metadata for credentials.
		env["AWS_EC2_METADATA_DISABLED"] = "true"
	}
	return env
}

// Endpoints lists the running emulators in report order.
func (s *Sandbox) Endpoints() []Endpoint {
	out := make([]Endpoint, 0, len(s.backends))
	for _, b := range s.backends {
		out = append(out, Endpoint{Provider: b.provider.Name, Kind: b.kind, URL: b.endpoint})
	}
	return out
}

// Calls returns every emulator's call counts, by kind then operation.
func (s *Sandbox) Calls() map[providers.Kind]map[string]int64 {
	out := map[providers.Kind]map[string]int64{}
	for _, b := range s.backends {
		out[b.kind] = b.calls()
	}
	return out
}

// ResetCalls zeroes every call counter.
func (s *Sandbox) ResetCalls() {
	for _, b := range s.backends {
		b.reset()
	}
}

// SetFaults replaces the fault injection of one emulator ("" for all).
func (s *Sandbox) SetFaults(kind providers.Kind, f emulator.Faults) error {
	found := false
	for _, b := range s.backends {
		if kind == "" || b.kind == kind {
			b.faults(f)
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
	for _, b := range s.backends {
		if d.Provider == b.provider.Name || d.Provider == string(b.kind) {
			if err := b.knownScope(d.Scope); err != nil {
				return fmt.Errorf("sandbox: deny %s: %w", d, err)
			}
			if err := b.deny(d.Scope); err != nil {
				return fmt.Errorf("sandbox: deny %s: %w", d, err)
			}
			return nil
		}
	}
	names := make([]string, 0, len(s.backends))
	for _, b := range s.backends {
		names = append(names, b.provider.Name)
	}
	sort.Strings(names)
	return fmt.Errorf("sandbox: deny %s: no running emulator is named %q (want one of %s, or a kind)", d, d.Provider, strings.Join(names, ", "))
}

// The emulators themselves, for benchmarks and tests that seed or inspect
// state directly (nil when that kind did not start).

// ACR returns the ACR emulator.
func (s *Sandbox) ACR() *acremu.Server { return s.acr }

// Quay returns the Quay emulator.
func (s *Sandbox) Quay() *quayemu.Server { return s.quay }

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

// keys are the kind's own keys of the backend's entry (the emulators give
// them by name so they need not import the adapters).
func (b *backend) keys() config.Keys {
	ks, _ := b.provider.Settings.(config.Keys)
	if ks == nil {
		ks = config.Keys{}
		b.provider.Settings = ks
	}
	return ks
}

// knownScope refuses a scope the sandbox's config does not audit: denying
// it would change nothing, and accepting it silently hid typos.
func (b *backend) knownScope(scope string) error {
	check := func(what, v, key string) error {
		l := b.list(key)
		if len(l) == 0 || slices.Contains(l, v) {
			return nil
		}
		return fmt.Errorf("%s %q is not audited by the sandbox (its %s: %s)", what, v, key, strings.Join(l, ", "))
	}
	switch b.kind {
	case providers.KindECR:
		_, region, _ := strings.Cut(scope, "/")
		return check("region", region, "regions")
	case providers.KindArtifactRegistry:
		project, loc, _ := strings.Cut(scope, "/")
		if err := check("project", project, "projects"); err != nil || loc == "" {
			return err
		}
		return check("location", loc, "locations")
	case providers.KindDockerHub, providers.KindQuay:
		return check("namespace", scope, "namespaces")
	case providers.KindHarbor:
		return check("project", scope, "projects")
	}
	return nil
}

// list is the list-valued key of the backend's entry.
func (b *backend) list(key string) []string {
	l, _ := b.keys()[key].([]string)
	return l
}

func (b *backend) setList(key string, l []string) { b.keys()[key] = l }

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
