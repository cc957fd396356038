// Package providertest is the conformance suite every registry adapter runs
// against its own emulator: listing and paging, the modes the kind can
// express, plan, apply, read-back, idempotency, the no-op contract, denied,
// throttled and unreadable cases, context cancellation and streaming.
//
// An adapter's test supplies a Suite (how to start a fresh emulator and
// point the adapter at it, and how to put a repository into a mode on the
// emulator's side) and calls Run. A new kind is done when it passes.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

// Env is one adapter pointed at one fresh emulator, with the emulator-side
// hooks the suite needs. Hooks left nil skip the checks that need them.
type Env struct {
	// Provider is the adapter under test, with fast retries (tests run retry
	// storms in test time) and the emulator as its only scope or scopes.
	Provider providers.Provider
	// Add creates repository name in the audited scope with mode m, on the
	// emulator's side. It is only called with modes listed in Modes. Each
	// repository gets at least one tag.
	Add func(t testing.TB, name string, m providers.Mode)
	// Modes are the modes Add can create. ModeMutable is required, except
	// for a registry with no setting at all (Bare is ModeUnsupported),
	// where Bare is.
	Modes []providers.Mode
	// Bare is the mode of a repository nothing protects: ModeMutable (the
	// zero value), or ModeUnsupported for registries that have no
	// tag-immutability setting (a plain distribution registry, ghcr.io).
	// The checks create their repositories in this mode.
	Bare providers.Mode
	// PageSize caps the emulator's list pages.
	PageSize func(n int)
	// Deny makes the audited scope answer access denied.
	Deny func(t testing.TB)
	// Throttle makes every API call answer with the registry's throttling
	// response (429 and Retry-After, or its SDK's throttling error).
	Throttle func(t testing.TB)
	// Unreadable makes the immutability setting of repository name
	// unreadable while the listing still works.
	Unreadable func(t testing.TB, name string)
	// Shared says a fix is shared by every repository of the scope (an
	// organisation policy, a project rule): fixing one fixes the others.
	Shared bool
	// PlanOnly says the kind's fixes are printed, never written (who may
	// overwrite is a permission, as on Artifactory): a plan for a bare
	// repository is held back with its reason and writes nothing, and an
	// Apply of it makes no write and fails.
	PlanOnly bool
}

// bare is Bare, ModeMutable by default.
func (env *Env) bare() providers.Mode {
	if env.Bare == "" {
		return providers.ModeMutable
	}
	return env.Bare
}

// Suite describes one kind's adapter for Run.
type Suite struct {
	// New starts a fresh emulator and returns the adapter pointed at it.
	// It is called once per check; cleanup goes through t.Cleanup.
	New func(t *testing.T) *Env
	// Streaming sizes: the heap the listing holds with Large repositories
	// must not exceed the one with Small by more than MaxGrowth bytes. Zero
	// values take 100, 2000 and 512 KiB: an adapter that kept every
	// repository (a few hundred bytes each at least) fails, while HTTP
	// connection buffers, which vary with concurrency, stay well below.
	// An adapter with a bounded cache (ACR's tokens per repository) sets
	// Small above its bound so that both runs hold it full.
	Small, Large int
	MaxGrowth    int64
}

// Run runs every check as a subtest of t.
func Run(t *testing.T, s Suite) {
	t.Run("listing and paging", func(t *testing.T) { listing(t, s) })
	t.Run("modes", func(t *testing.T) { modes(t, s) })
	t.Run("plan apply read-back idempotent", func(t *testing.T) { fix(t, s) })
	t.Run("no-op", func(t *testing.T) { noop(t, s) })
	t.Run("denied", func(t *testing.T) { denied(t, s) })
	t.Run("throttled", func(t *testing.T) { throttled(t, s) })
	t.Run("unreadable", func(t *testing.T) { unreadable(t, s) })
	t.Run("cancellation", func(t *testing.T) { cancellation(t, s) })
	t.Run("emitter error stops the listing", func(t *testing.T) { emitterError(t, s) })
	t.Run("streaming", func(t *testing.T) { streaming(t, s) })
}

// name is the i-th repository the suite creates.
func name(i int) string { return fmt.Sprintf("conf-%03d", i) }

// find returns the repository called n (its name, or its last path
// element when the kind puts the namespace in the name).
func find(rs []providers.Repository, n string) (providers.Repository, bool) {
	for _, r := range rs {
		if r.Name == n || strings.HasSuffix(r.Name, "/"+n) {
			return r, true
		}
	}
	return providers.Repository{}, false
}

func scan(t *testing.T, p providers.Provider) ([]providers.Repository, map[string]error) {
	t.Helper()
	e, errs := testutil.Scan(t, p)
	return e.Repos(), errs
}

func listing(t *testing.T, s Suite) {
	env := s.New(t)
	if env.PageSize != nil {
		env.PageSize(2)
	}
	const n = 7
	for i := range n {
		env.Add(t, name(i), env.bare())
	}
	repos, errs := scan(t, env.Provider)
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	seen := map[string]bool{}
	for _, r := range repos {
		if seen[r.Scope+"/"+r.Name] {
			t.Errorf("repository %s/%s listed twice", r.Scope, r.Name)
		}
		seen[r.Scope+"/"+r.Name] = true
		if r.Provider != env.Provider.Name() || r.Kind != env.Provider.Kind() {
			t.Errorf("repository %s: provider %q kind %q, want %q %q", r.Name, r.Provider, r.Kind, env.Provider.Name(), env.Provider.Kind())
		}
	}
	for i := range n {
		if _, ok := find(repos, name(i)); !ok {
			t.Errorf("repository %s not listed (got %d repositories)", name(i), len(repos))
		}
	}
}

func modes(t *testing.T, s Suite) {
	env := s.New(t)
	if !slices.Contains(env.Modes, env.bare()) {
		t.Fatalf("Env.Modes must include %s", env.bare())
	}
	for i, m := range env.Modes {
		env.Add(t, name(i), m)
	}
	repos, errs := scan(t, env.Provider)
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	for i, m := range env.Modes {
		r, ok := find(repos, name(i))
		if !ok {
			t.Errorf("%s (%s) not listed", name(i), m)
			continue
		}
		if r.Mode != m {
			t.Errorf("%s: mode %s (native %q), want %s", r.Name, r.Mode, r.Native, m)
		}
		if m == providers.ModeUnknown && r.Error == "" {
			t.Errorf("%s: unknown without the reason", r.Name)
		}
	}
}

// enforcer returns the Enforcer or skips.
func enforcer(t *testing.T, env *Env) providers.Enforcer {
	t.Helper()
	e, ok := env.Provider.(providers.Enforcer)
	if !ok {
		t.Skipf("%s does not implement providers.Enforcer", env.Provider.Kind())
	}
	return e
}

func fix(t *testing.T, s Suite) {
	env := s.New(t)
	enf := enforcer(t, env)
	env.Add(t, name(0), env.bare())
	repos, errs := scan(t, env.Provider)
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	r, ok := find(repos, name(0))
	if !ok {
		t.Fatal("repository not listed")
	}
	pol := providers.FixPolicy{}
	c, err := enf.Plan(t.Context(), r, pol)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if env.PlanOnly {
		if c.Noop || c.Action == "" || c.HeldBack == "" || c.Writes != 0 {
			t.Fatalf("plan-only kind: noop=%v action=%q held back=%q writes=%d, want a held-back change that writes nothing", c.Noop, c.Action, c.HeldBack, c.Writes)
		}
		c = spooled(t, c)
		var obs testutil.Observer
		if res, err := enf.Apply(t.Context(), c, &obs); err == nil || res.Writes != 0 || len(obs.Writes()) != 0 || res.Verified {
			t.Errorf("Apply of a plan-only change: err=%v writes=%d observer=%v verified=%v, want an error and no write", err, res.Writes, obs.Records(), res.Verified)
		}
		return
	}
	if c.Noop || c.Action == "" || c.Writes < 1 {
		t.Fatalf("plan for a mutable repository: noop=%v action=%q writes=%d", c.Noop, c.Action, c.Writes)
	}
	if c.To.Mode != providers.ModeImmutable {
		t.Errorf("plan target mode %s, want immutable", c.To.Mode)
	}
	// A plan is spooled to disk as JSON: Apply works from what survives,
	// the Ref above all, and refuses a change without one before any call.
	c = spooled(t, c)
	noRef := c
	noRef.Ref = nil
	var refused testutil.Observer
	if res, err := enf.Apply(t.Context(), noRef, &refused); !errors.Is(err, providers.ErrBadRef) || res.Writes != 0 || len(refused.Writes()) != 0 {
		t.Errorf("Apply of a change without a ref: err=%v writes=%d observer=%v, want ErrBadRef and no write", err, res.Writes, refused.Records())
	}
	var obs testutil.Observer
	res, err := enf.Apply(t.Context(), c, &obs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !res.Verified || res.After.Mode != providers.ModeImmutable {
		t.Errorf("Apply: verified=%v after=%s", res.Verified, res.After)
	}
	if res.Writes < 1 || int64(len(obs.Writes())) != res.Writes {
		t.Errorf("Apply reported %d writes to the observer, result says %d", len(obs.Writes()), res.Writes)
	}
	// Read back through a fresh listing.
	repos, errs = scan(t, env.Provider)
	if len(errs) != 0 {
		t.Fatalf("scope errors after the fix: %v", errs)
	}
	if r, _ = find(repos, name(0)); r.Mode != providers.ModeImmutable {
		t.Fatalf("after the fix the listing says %s", r.Mode)
	}
	// Idempotent: the plan is now a no-op.
	c2, err := enf.Plan(t.Context(), r, pol)
	if err != nil {
		t.Fatalf("second Plan: %v", err)
	}
	if !c2.Noop || c2.Writes != 0 {
		t.Errorf("second plan: noop=%v writes=%d, want a no-op", c2.Noop, c2.Writes)
	}
}

// noop checks the contract stated on providers.Enforcer: Apply of a Noop
// change writes nothing, reads the setting back and reports it, verified
// when it still satisfies the plan.
func noop(t *testing.T, s Suite) {
	env := s.New(t)
	enf := enforcer(t, env)
	if !slices.Contains(env.Modes, providers.ModeImmutable) {
		t.Skip("the kind cannot create an immutable repository here")
	}
	env.Add(t, name(0), providers.ModeImmutable)
	repos, errs := scan(t, env.Provider)
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	r, ok := find(repos, name(0))
	if !ok {
		t.Fatal("repository not listed")
	}
	c, err := enf.Plan(t.Context(), r, providers.FixPolicy{})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if !c.Noop || c.Writes != 0 {
		t.Fatalf("plan for an immutable repository: noop=%v writes=%d", c.Noop, c.Writes)
	}
	c = spooled(t, c)
	var obs testutil.Observer
	res, err := enf.Apply(t.Context(), c, &obs)
	if err != nil {
		t.Fatalf("Apply of a no-op: %v", err)
	}
	if res.Writes != 0 || len(obs.Writes()) != 0 {
		t.Errorf("Apply of a no-op wrote: %d writes, observer saw %v", res.Writes, obs.Records())
	}
	if !res.Verified || res.After.Mode != providers.ModeImmutable {
		t.Errorf("Apply of a no-op: verified=%v after=%s, want the setting read back", res.Verified, res.After)
	}
	// The setting is really read back, not echoed from the plan: with
	// every call refused, Apply of the same no-op cannot verify it.
	if env.Throttle == nil {
		return
	}
	env.Throttle(t)
	var obs2 testutil.Observer
	res, err = enf.Apply(t.Context(), c, &obs2)
	if err == nil || res.Verified || res.Writes != 0 || len(obs2.Writes()) != 0 {
		t.Errorf("Apply of a no-op while every call is throttled: err=%v verified=%v writes=%d, want an error, unverified and no write (the setting must be read back)", err, res.Verified, res.Writes)
	}
}

// spooled is c as the fix engine reads it back from its spool: through
// JSON, so only what is serialised reaches Apply. Plan must have filled
// the Ref.
func spooled(t *testing.T, c providers.Change) providers.Change {
	t.Helper()
	if len(c.Ref) == 0 {
		t.Fatalf("Plan returned a change without a Ref (%s of %s/%s)", c.Kind, c.Scope, c.Repository)
	}
	return testutil.Spooled(t, c)
}

// scopeErr lists every scope and returns the first error: from Scopes
// (a kind that calls an API to enumerate them) or from a scope's listing.
// It fails the test when there is none.
func scopeErr(t *testing.T, env *Env) ([]providers.Repository, error) {
	t.Helper()
	scopes, err := env.Provider.Scopes(t.Context())
	if err != nil {
		return nil, err
	}
	var e testutil.Emitter
	for _, sc := range scopes {
		if err := env.Provider.Repositories(t.Context(), sc, &e); err != nil {
			return e.Repos(), err
		}
	}
	t.Fatalf("no scope error (%d repositories listed)", len(e.Repos()))
	return nil, nil
}

func denied(t *testing.T, s Suite) {
	env := s.New(t)
	if env.Deny == nil {
		t.Skip("no Deny hook")
	}
	env.Add(t, name(0), env.bare())
	env.Deny(t)
	repos, err := scopeErr(t, env)
	if k := providers.ClassOf(err); k != providers.ErrDenied {
		t.Errorf("denied scope: error kind %s (%v), want %s", k, err, providers.ErrDenied)
	}
	for _, r := range repos {
		if r.Mode == providers.ModeImmutable {
			t.Errorf("a denied scope produced a compliant-looking repository %s", r.Name)
		}
	}
}

func throttled(t *testing.T, s Suite) {
	env := s.New(t)
	if env.Throttle == nil {
		t.Skip("no Throttle hook")
	}
	env.Add(t, name(0), env.bare())
	env.Throttle(t)
	_, err := scopeErr(t, env)
	if k := providers.ClassOf(err); k != providers.ErrThrottled {
		t.Errorf("throttled scope: error kind %s (%v), want %s", k, err, providers.ErrThrottled)
	}
}

func unreadable(t *testing.T, s Suite) {
	env := s.New(t)
	if env.Unreadable == nil {
		t.Skip("no Unreadable hook")
	}
	env.Add(t, name(0), env.bare())
	env.Add(t, name(1), env.bare())
	env.Unreadable(t, name(0))
	repos, _ := scan(t, env.Provider)
	r, ok := find(repos, name(0))
	if !ok {
		// Failing the scope is fail-closed too, but then the other
		// repository must not be reported either way.
		return
	}
	if r.Mode != providers.ModeUnknown || r.Error == "" {
		t.Errorf("unreadable setting reported as %s (error %q), want unknown with the reason", r.Mode, r.Error)
	}
	if o, ok := find(repos, name(1)); ok && o.Mode != env.bare() {
		t.Errorf("the readable neighbour is %s, want %s", o.Mode, env.bare())
	}
}

func cancellation(t *testing.T, s Suite) {
	env := s.New(t)
	env.Add(t, name(0), env.bare())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	scopes, err := env.Provider.Scopes(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Scopes on a cancelled context: %v, want it to wrap context.Canceled", err)
		}
		return
	}
	for _, sc := range scopes {
		var e testutil.Emitter
		err := env.Provider.Repositories(ctx, sc, &e)
		if err == nil {
			t.Errorf("scope %s listed on a cancelled context (%d repositories)", sc.Name, len(e.Repos()))
		} else if !errors.Is(err, context.Canceled) {
			t.Errorf("scope %s: %v, want it to wrap context.Canceled", sc.Name, err)
		}
	}
}

// stopEmitter fails on the first repository.
// stopEmitter fails every repository. Emitters must be safe for concurrent
// use (adapters emit from several workers), hence the atomic count.
type stopEmitter struct{ n atomic.Int64 }

var errStop = errors.New("providertest: stop")

func (e *stopEmitter) Repository(providers.Repository) error { e.n.Add(1); return errStop }
func (e *stopEmitter) Warn(providers.Warning)                {}

func emitterError(t *testing.T, s Suite) {
	env := s.New(t)
	if env.PageSize != nil {
		env.PageSize(2)
	}
	for i := range 6 {
		env.Add(t, name(i), env.bare())
	}
	scopes, err := env.Provider.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scopes {
		var e stopEmitter
		err := env.Provider.Repositories(t.Context(), sc, &e)
		if e.n.Load() == 0 {
			continue
		}
		if !errors.Is(err, errStop) {
			t.Errorf("scope %s: the emitter's error was not returned: %v", sc.Name, err)
		}
	}
}

// heapEmitter samples the heap (after a collection) at five points of the
// last quarter of the listing and keeps the smallest sample. State an
// adapter accumulates only grows, so the smallest late sample still shows
// it; buffers of requests in flight come and go, so it filters them out.
type heapEmitter struct {
	mu    sync.Mutex
	n     int
	total int
	held  uint64
}

func (e *heapEmitter) Repository(providers.Repository) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	step := max(1, e.total/16)
	if e.n >= e.total*3/4 && (e.n%step == 0 || e.n == e.total) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if e.held == 0 || ms.HeapAlloc < e.held {
			e.held = ms.HeapAlloc
		}
	}
	return nil
}
func (e *heapEmitter) Warn(providers.Warning) {}

// retained lists every scope of env and returns the heap held while
// listing, above what was in use (emulator state included) before.
func retained(t *testing.T, env *Env, n int) int64 {
	t.Helper()
	scopes, err := env.Provider.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	e := &heapEmitter{total: n}
	for _, sc := range scopes {
		if err := env.Provider.Repositories(t.Context(), sc, e); err != nil {
			t.Fatalf("scope %s: %v", sc.Name, err)
		}
	}
	if e.n != n {
		t.Fatalf("listed %d repositories, want %d", e.n, n)
	}
	return int64(e.held) - int64(base)
}

func streaming(t *testing.T, s Suite) {
	if testing.Short() {
		t.Skip("-short")
	}
	small, large, growth := cmpOr(s.Small, 100), cmpOr(s.Large, 2000), s.MaxGrowth
	if growth == 0 {
		growth = 512 << 10
	}
	measure := func(n int) int64 {
		env := s.New(t)
		if env.PageSize != nil {
			env.PageSize(20)
		}
		for i := range n {
			env.Add(t, name(i), env.bare())
		}
		return retained(t, env, n)
	}
	a, b := measure(small), measure(large)
	t.Logf("heap held while listing: %d repositories %d KiB, %d repositories %d KiB", small, a>>10, large, b>>10)
	if b-a > growth {
		t.Errorf("listing %d repositories held %d KiB more than listing %d (limit %d KiB): memory grows with the repositories",
			large, (b-a)>>10, small, growth>>10)
	}
}

func cmpOr(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}
