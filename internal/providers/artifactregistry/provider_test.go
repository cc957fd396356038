package artifactregistry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	aremu "github.com/immutag/immutag/internal/emulator/artifactregistry"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func startEmu(t *testing.T) *arEmu {
	t.Helper()
	s := aremu.New(aremu.Options{})
	return &arEmu{Server: s, endpoint: serve(t, s)}
}

// arEmu is an emulator and the loopback address it is served on.
type arEmu struct {
	*aremu.Server
	endpoint string
}

// newProvider builds the adapter against the emulator with a fast retry policy.
func newProvider(t *testing.T, s *arEmu, edit func(*config.Provider)) *Provider {
	t.Helper()
	cfg := config.Provider{Name: "gar", Kind: providers.KindArtifactRegistry, Endpoint: s.endpoint, Settings: &Settings{Projects: []string{"p1"}}}
	if edit != nil {
		edit(&cfg)
	}
	pr, err := New(t.Context(), cfg, providers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := pr.(*Provider)
	p.backoff = gax.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, Multiplier: 2}
	p.attempts = 3
	p.timeout = 10 * time.Second
	t.Cleanup(func() { _ = p.Close() })
	return p
}

var errStop = errors.New("stop")

// stopAt is an Emitter whose n-th Repository call fails with errStop.
type stopAt struct {
	testutil.Emitter
	n int
}

func (s *stopAt) Repository(r providers.Repository) error {
	_ = s.Emitter.Repository(r)
	if len(s.Repos()) == s.n {
		return errStop
	}
	return nil
}

func scopeNames(ss []providers.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func TestPagination(t *testing.T) {
	s := startEmu(t)
	var want []string
	for i := range 7 {
		n := fmt.Sprintf("repo-%02d", i)
		want = append(want, n)
		testutil.Must(t, s.CreateRepository("p1", "us-east1", n, aremu.ModeStandard, i%2 == 0))
	}
	s.SetFaults(emulator.Faults{PageSize: 3})
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-east1"} })
	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, r := range c.Repos() {
		got = append(got, r.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if n := s.Calls().Get("ListRepositories"); n != 3 {
		t.Fatalf("ListRepositories calls = %d, want 3 (7 repositories, pages of 3)", n)
	}
	if n := s.Calls().Get("ListLocations"); n != 0 {
		t.Fatalf("explicit locations should not call ListLocations, got %d", n)
	}
}

func TestStreamingStopsEarly(t *testing.T) {
	s := startEmu(t)
	for i := range 10 {
		testutil.Must(t, s.CreateRepository("p1", "us-east1", fmt.Sprintf("r%d", i), aremu.ModeStandard, false))
	}
	s.SetFaults(emulator.Faults{PageSize: 2})
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-east1"} })
	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)
	c := &stopAt{n: 1}
	if err := p.Repositories(t.Context(), scopes[0], c); !errors.Is(err, errStop) {
		t.Fatalf("emitter error not returned: %v", err)
	}
	// Repositories are emitted as pages arrive, not after the whole listing.
	if n := s.Calls().Get("ListRepositories"); n != 1 {
		t.Fatalf("ListRepositories calls = %d after the emitter stopped on the first repository, want 1", n)
	}
}

func TestScopesFromListLocations(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "a", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "europe-west1", "b", aremu.ModeStandard, true))
	s.AddLocation("p1", "asia-east1")
	testutil.Must(t, s.CreateRepository("p2", "us-east4", "c", aremu.ModeStandard, false))
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Projects = []string{"p1", "p2", "p1"} })

	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)
	want := []string{"p1/asia-east1", "p1/europe-west1", "p1/us-central1", "p2/us-east4"}
	if got := scopeNames(scopes); !slices.Equal(got, want) {
		t.Fatalf("scopes %v, want %v", got, want)
	}
	if n := s.Calls().Get("ListLocations"); n != 2 {
		t.Fatalf("ListLocations calls = %d, want one per distinct project", n)
	}
	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := c.ByKey()
	if len(got) != 3 || got["p1/europe-west1/b"].Mode != providers.ModeImmutable || got["p2/us-east4/c"].Mode != providers.ModeMutable {
		t.Fatalf("repositories %v", got)
	}
	if n := s.Calls().Get("ListRepositories"); n != 4 {
		t.Fatalf("ListRepositories calls = %d, want one per scope", n)
	}
}

func TestExplicitLocations(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "a", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "europe-west1", "b", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "asia-east1", "skipped", aremu.ModeStandard, false))
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-central1", "europe-west1"} })
	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)
	if got := scopeNames(scopes); !slices.Equal(got, []string{"p1/us-central1", "p1/europe-west1"}) {
		t.Fatalf("scopes %v", got)
	}
	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := c.ByKey(); len(got) != 2 || got["p1/asia-east1/skipped"].Name != "" {
		t.Fatalf("repositories %v", got)
	}
	if n := s.Calls().Get("ListLocations"); n != 0 {
		t.Fatalf("ListLocations calls = %d, want 0", n)
	}
}

func TestModes(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "mutable", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "locked", aremu.ModeStandard, true))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "mirror", aremu.ModeRemote, false))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "all", aremu.ModeVirtual, false))
	testutil.Must(t, s.Seed("p1", "us-central1", aremu.RepoSpec{Name: "libs", Format: "MAVEN"}))
	testutil.Must(t, s.Seed("p1", "us-central1", aremu.RepoSpec{Name: "npm", Format: "NPM"}))
	p := newProvider(t, s, nil)
	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	got := c.ByKey()
	if len(got) != 4 {
		t.Fatalf("want the 4 docker repositories only, got %v", got)
	}
	for name, want := range map[string]struct {
		mode   providers.Mode
		native string
		exempt bool
	}{
		"mutable": {providers.ModeMutable, "dockerConfig.immutableTags=false", false},
		"locked":  {providers.ModeImmutable, "dockerConfig.immutableTags=true", false},
		"mirror":  {providers.ModeUnsupported, "mode=REMOTE_REPOSITORY, dockerConfig.immutableTags=false", true},
		"all":     {providers.ModeUnsupported, "mode=VIRTUAL_REPOSITORY, dockerConfig.immutableTags=false", true},
	} {
		r := got["p1/us-central1/"+name]
		if r.Mode != want.mode || r.Native != want.native || (r.DefaultExemption != "") != want.exempt {
			t.Errorf("%s: mode %q native %q exemption %q", name, r.Mode, r.Native, r.DefaultExemption)
		}
		if r.Provider != "gar" || r.Kind != providers.KindArtifactRegistry || r.URI != "us-central1-docker.pkg.dev/p1/"+name {
			t.Errorf("%s: provider %q kind %q uri %q", name, r.Provider, r.Kind, r.URI)
		}
	}
	if r := got["p1/us-central1/mirror"]; r.DefaultExemption != remoteReason {
		t.Errorf("remote exemption reason %q", r.DefaultExemption)
	}
}

func TestUnreadableScope(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "a", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "europe-west1", "b", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p2", "us-east1", "c", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p3", "us-east1", "d", aremu.ModeStandard, false))
	s.Deny("p1", "europe-west1")
	s.Deny("p2", "")
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Projects = []string{"p1", "p2", "p3"} })

	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)
	if got := scopeNames(scopes); !slices.Equal(got, []string{"p1/europe-west1", "p1/us-central1", "p2/*", "p3/us-east1"}) {
		t.Fatalf("scopes %v", got)
	}
	c, errs := testutil.Scan(t, p)
	if got := c.ByKey(); len(got) != 2 || got["p1/us-central1/a"].Name == "" || got["p3/us-east1/d"].Name == "" {
		t.Fatalf("readable scopes should still be emitted, got %v", got)
	}
	if len(errs) != 2 {
		t.Fatalf("scope errors %v", errs)
	}
	for _, scope := range []string{"p1/europe-west1", "p2/*"} {
		err := errs[scope]
		if !errors.Is(err, providers.ErrDenied) {
			t.Fatalf("%s: %v, want a denied APIError", scope, err)
		}
		var ae *providers.APIError
		if !errors.As(err, &ae) || ae.Code != "PERMISSION_DENIED" || !strings.Contains(ae.Message, "denied on resource") {
			t.Fatalf("%s: API message lost: %#v", scope, ae)
		}
	}
	if !strings.Contains(errs["p1/europe-west1"].Error(), "p1/europe-west1") || !strings.Contains(errs["p2/*"].Error(), "project p2") {
		t.Fatalf("errors should name the scope: %v", errs)
	}
}

func TestNotFoundScope(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "a", aremu.ModeStandard, false))
	s.Missing("p1", "us-central1")
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-central1"} })
	_, errs := testutil.Scan(t, p)
	if !errors.Is(errs["p1/us-central1"], providers.ErrNotFound) {
		t.Fatalf("errors %v", errs)
	}
}

type observer struct {
	mu       sync.Mutex
	writes   []providers.WriteRecord
	progress int
}

func (o *observer) Write(_ providers.Change, w providers.WriteRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes = append(o.writes, w)
}

func (o *observer) Progress(_ providers.Change, done, total int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.progress++
}

func find(t *testing.T, c *testutil.Emitter, key string) providers.Repository {
	t.Helper()
	r, ok := c.ByKey()[key]
	if !ok {
		t.Fatalf("repository %s not listed", key)
	}
	return r
}

func TestFixPlanApplyIdempotent(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.Seed("p1", "us-central1", aremu.RepoSpec{Name: "app", Description: "keep me", Labels: map[string]string{"team": "web", "env": "prod"}}))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "locked", aremu.ModeStandard, true))
	testutil.Must(t, s.PushTag("p1", "us-central1", "app", "latest"))
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	app := find(t, c, "p1/us-central1/app")
	before, _ := s.Repository("p1", "us-central1", "app")

	// Plan makes no call at all when the listing already read the setting.
	s.Calls().Reset()
	// latest allowed: AR cannot keep it mutable, so the change is held
	// back with the reason unless the user accepts it.
	held, err := p.Plan(t.Context(), app, providers.FixPolicy{MutableTagsAllowed: []string{"latest"}})
	testutil.Must(t, err)
	if !strings.Contains(held.HeldBack, "cannot keep latest mutable") || !strings.Contains(held.HeldBack, "--accept-immutable-allowed-tags") {
		t.Fatalf("plan with latest allowed not held back: %+v", held)
	}
	ch, err := p.Plan(t.Context(), app, providers.FixPolicy{MutableTagsAllowed: []string{"latest"}, AcceptImmutableAllowed: true})
	testutil.Must(t, err)
	if ch.Noop || ch.HeldBack != "" || ch.Writes != 1 || ch.To.Mode != providers.ModeImmutable || ch.From.Mode != providers.ModeMutable ||
		!strings.Contains(ch.Action, "tags matching latest become immutable too") {
		t.Fatalf("plan %+v", ch)
	}
	if nothing, _ := p.Plan(t.Context(), app, providers.FixPolicy{}); nothing.HeldBack != "" {
		t.Fatalf("nothing allowed, still held back: %+v", nothing)
	}
	if !strings.Contains(ch.Action, "docker_config.immutable_tags") {
		t.Fatalf("action %q", ch.Action)
	}
	if calls := s.Calls().Snapshot(); len(calls) != 0 {
		t.Fatalf("plan made calls: %v", calls)
	}
	if r, _ := s.Repository("p1", "us-central1", "app"); r.ImmutableTags {
		t.Fatal("plan changed the repository")
	}
	lockedPlan, err := p.Plan(t.Context(), find(t, c, "p1/us-central1/locked"), providers.FixPolicy{})
	testutil.Must(t, err)
	if !lockedPlan.Noop || lockedPlan.Writes != 0 {
		t.Fatalf("immutable repository should plan a noop: %+v", lockedPlan)
	}

	o := &observer{}
	res, err := p.Apply(t.Context(), ch, o)
	testutil.Must(t, err)
	if !res.Verified || res.Writes != 1 || res.After.Mode != providers.ModeImmutable {
		t.Fatalf("result %+v", res)
	}
	if n := s.Calls().Get("UpdateRepository"); n != 1 {
		t.Fatalf("UpdateRepository calls = %d, want 1", n)
	}
	if n := s.Calls().Get("GetRepository"); n != 1 {
		t.Fatalf("GetRepository (read-back) calls = %d, want 1", n)
	}
	if len(o.writes) != 1 || o.writes[0].Call != "UpdateRepository" || o.writes[0].Err != "" ||
		o.writes[0].Before != "dockerConfig.immutableTags=false" || o.writes[0].After != "dockerConfig.immutableTags=true" {
		t.Fatalf("journal %+v", o.writes)
	}
	// Field mask exactness: only the flag is named and nothing else moved.
	if m := s.LastUpdateMask(); !slices.Equal(m, []string{"docker_config.immutable_tags"}) {
		t.Fatalf("update mask %v, want exactly [docker_config.immutable_tags]", m)
	}
	after, _ := s.Repository("p1", "us-central1", "app")
	if !after.ImmutableTags || after.Description != before.Description || !mapsEqual(after.Labels, before.Labels) ||
		after.Mode != before.Mode || after.Format != before.Format || !mapsEqual(after.Tags, before.Tags) {
		t.Fatalf("repository changed beyond the flag:\nbefore %+v\nafter  %+v", before, after)
	}
	// Once accepted, both a release and latest are refused.
	testutil.Must(t, s.PushTag("p1", "us-central1", "app", "v1.0.0"))
	for _, tag := range []string{"latest", "v1.0.0"} {
		if err := s.PushTag("p1", "us-central1", "app", tag); !errors.Is(err, emulator.ErrTagImmutable) {
			t.Fatalf("overwrite of %s after fix: %v", tag, err)
		}
	}

	// Second run: the audit sees immutable, the plan is a noop, applying it writes nothing.
	c2, _ := testutil.Scan(t, p)
	app2 := find(t, c2, "p1/us-central1/app")
	if app2.Mode != providers.ModeImmutable {
		t.Fatalf("after fix the audit reads %q", app2.Mode)
	}
	ch2, err := p.Plan(t.Context(), app2, providers.FixPolicy{})
	testutil.Must(t, err)
	if !ch2.Noop || ch2.Writes != 0 {
		t.Fatalf("second plan %+v", ch2)
	}
	s.Calls().Reset()
	o2 := &observer{}
	res2, err := p.Apply(t.Context(), ch2, o2)
	testutil.Must(t, err)
	if n := s.Calls().Get("UpdateRepository"); n != 0 || res2.Writes != 0 || len(o2.writes) != 0 || !res2.Verified {
		t.Fatalf("re-apply wrote: calls %d result %+v journal %v", n, res2, o2.writes)
	}
	if r, _ := s.Repository("p1", "us-central1", "app"); r.Updates != 1 {
		t.Fatalf("repository updated %d times, want 1", r.Updates)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestVerifyAfterWrite(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "app", aremu.ModeStandard, false))
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), find(t, c, "p1/us-central1/app"), providers.FixPolicy{})
	testutil.Must(t, err)

	// The write is acknowledged but not kept: the read-back must catch it.
	s.DropUpdates(true)
	o := &observer{}
	res, err := p.Apply(t.Context(), ch, o)
	testutil.Must(t, err)
	if res.Verified || res.Writes != 1 || res.After.Mode != providers.ModeMutable || len(o.writes) != 1 {
		t.Fatalf("unverified write reported as %+v (journal %v)", res, o.writes)
	}

	// The read-back itself fails: unknown, not verified, and an error.
	s.DropUpdates(false)
	s.FailNext("GetRepository", codes.PermissionDenied, 1)
	res, err = p.Apply(t.Context(), ch, &observer{})
	if err == nil || !errors.Is(err, providers.ErrDenied) {
		t.Fatalf("read-back failure: %v", err)
	}
	if res.Verified || res.Writes != 1 || res.After.Mode != providers.ModeUnknown || res.After.Error == "" {
		t.Fatalf("result %+v", res)
	}
}

func TestApplyWriteFails(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "app", aremu.ModeStandard, false))
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), find(t, c, "p1/us-central1/app"), providers.FixPolicy{})
	testutil.Must(t, err)
	s.Deny("p1", "us-central1")
	o := &observer{}
	res, err := p.Apply(t.Context(), ch, o)
	if !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "projects/p1/locations/us-central1/repositories/app") {
		t.Fatalf("apply error %v", err)
	}
	if res.Verified || res.Writes != 0 || len(o.writes) != 1 || o.writes[0].Err == "" {
		t.Fatalf("failed write: result %+v journal %+v", res, o.writes)
	}
}

func TestPlanReadOnlyModes(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "mirror", aremu.ModeRemote, false))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "all", aremu.ModeVirtual, false))
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	s.Calls().Reset()
	for _, name := range []string{"mirror", "all"} {
		_, err := p.Plan(t.Context(), find(t, c, "p1/us-central1/"+name), providers.FixPolicy{})
		if !errors.Is(err, providers.ErrUnsupported) {
			t.Fatalf("%s: plan error %v, want unsupported", name, err)
		}
	}
	if n := s.Calls().Get("UpdateRepository"); n != 0 {
		t.Fatalf("UpdateRepository calls = %d", n)
	}
}

func TestPlanWithoutHandle(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "app", aremu.ModeStandard, false))
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "mirror", aremu.ModeRemote, false))
	p := newProvider(t, s, nil)
	// A repository known only by scope and name (e.g. from a saved report)
	// whose setting was not read: Plan reads it first.
	ch, err := p.Plan(t.Context(), providers.Repository{Scope: "p1/us-central1", Name: "app", Immutability: providers.Immutability{Mode: providers.ModeUnknown}}, providers.FixPolicy{})
	testutil.Must(t, err)
	if ch.Noop || ch.From.Mode != providers.ModeMutable || s.Calls().Get("GetRepository") != 1 {
		t.Fatalf("plan %+v", ch)
	}
	ch = testutil.Spooled(t, ch)
	res, err := p.Apply(t.Context(), ch, nil)
	testutil.Must(t, err)
	if !res.Verified {
		t.Fatalf("result %+v", res)
	}
	_, err = p.Plan(t.Context(), providers.Repository{Scope: "p1/us-central1", Name: "mirror"}, providers.FixPolicy{})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("remote without handle: %v", err)
	}
	if _, err := p.Plan(t.Context(), providers.Repository{Scope: "p1", Name: "app"}, providers.FixPolicy{}); err == nil {
		t.Fatal("a scope without a location should be refused")
	}
}

func TestRetries(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "app", aremu.ModeStandard, false))
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-central1"} })
	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)

	// Two transient failures, then success within the 3 attempts.
	s.FailNext("ListRepositories", codes.Unavailable, 1)
	s.FailNext("ListRepositories", codes.ResourceExhausted, 1)
	c := &testutil.Emitter{}
	testutil.Must(t, p.Repositories(t.Context(), scopes[0], c))
	if len(c.Repos()) != 1 || s.Calls().Get("ListRepositories") != 3 {
		t.Fatalf("repos %d, calls %d", len(c.Repos()), s.Calls().Get("ListRepositories"))
	}

	// Throttled on every attempt: gives up after the configured attempts.
	s.Calls().Reset()
	s.SetFaults(emulator.Faults{ThrottleRate: 1})
	err = p.Repositories(t.Context(), scopes[0], &testutil.Emitter{})
	if !errors.Is(err, providers.ErrThrottled) {
		t.Fatalf("throttled listing: %v", err)
	}
	if n := s.Calls().Get("ListRepositories"); n != 3 {
		t.Fatalf("attempts = %d, want 3", n)
	}

	// A permanent error is not retried.
	s.SetFaults(emulator.Faults{})
	s.Calls().Reset()
	s.Deny("p1", "us-central1")
	_ = p.Repositories(t.Context(), scopes[0], &testutil.Emitter{})
	if n := s.Calls().Get("ListRepositories"); n != 1 {
		t.Fatalf("PermissionDenied retried: %d calls", n)
	}
}

func TestCancelled(t *testing.T) {
	s := startEmu(t)
	testutil.Must(t, s.CreateRepository("p1", "us-central1", "app", aremu.ModeStandard, false))
	p := newProvider(t, s, func(c *config.Provider) { c.Settings.(*Settings).Locations = []string{"us-central1"} })
	scopes, err := p.Scopes(t.Context())
	testutil.Must(t, err)
	// A latency far beyond any machine's slowness: returning at all within
	// the bound below proves the context, not the answer, ended the call.
	s.SetFaults(emulator.Faults{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = p.Repositories(ctx, scopes[0], &testutil.Emitter{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled listing: %v", err)
	}
	if time.Since(t0) > time.Minute {
		t.Fatal("listing did not stop with its context")
	}
}

func TestNewIsLazyAndValidates(t *testing.T) {
	s := startEmu(t)
	_ = newProvider(t, s, nil)
	if calls := s.Calls().Snapshot(); len(calls) != 0 {
		t.Fatalf("New called the API: %v", calls)
	}
	for _, cfg := range []config.Provider{
		{Name: "x"},
		{Name: "x", Settings: &Settings{Projects: []string{""}}},
		{Name: "x", Settings: &Settings{Projects: []string{"a/b"}}},
		{Name: "x", Settings: &Settings{Projects: []string{"p"}, Locations: []string{"*"}}},
		{Name: "x", Settings: &Settings{Projects: []string{"p"}, Locations: []string{"-", "us/x"}}},
		{Name: "x", Settings: &Settings{Projects: []string{"p"}}, TLS: config.TLS{CAFile: "/nonexistent/ca.pem"}},
	} {
		if _, err := New(t.Context(), cfg, providers.Options{}); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestDemoEndToEnd(t *testing.T) {
	d, err := aremu.StartDemo(t.Context())
	testutil.Must(t, err)
	t.Cleanup(func() { _ = d.Close() })
	pr, err := New(t.Context(), d.Provider(), providers.Options{Getenv: func(k string) string { return d.Env()[k] }})
	testutil.Must(t, err)
	p := pr.(*Provider)
	t.Cleanup(func() { _ = p.Close() })

	c, errs := testutil.Scan(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	modes := map[providers.Mode]int{}
	for _, r := range c.Repos() {
		modes[r.Mode]++
	}
	if len(c.Repos()) != 6 || modes[providers.ModeMutable] == 0 || modes[providers.ModeImmutable] == 0 || modes[providers.ModeUnsupported] == 0 {
		t.Fatalf("demo audit: %d repositories, modes %v", len(c.Repos()), modes)
	}
	scope, repo, tag := d.OverwriteTarget()
	testutil.Must(t, d.PushTag(t.Context(), scope, repo, tag))

	fixed := 0
	for _, r := range c.Repos() {
		if r.Mode != providers.ModeMutable {
			continue
		}
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
		testutil.Must(t, err)
		res, err := p.Apply(t.Context(), ch, &observer{})
		testutil.Must(t, err)
		if !res.Verified {
			t.Fatalf("%s not verified", r.Name)
		}
		fixed++
	}
	if fixed == 0 {
		t.Fatal("demo has nothing to fix")
	}
	if err := d.PushTag(t.Context(), scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v", err)
	}
	c2, _ := testutil.Scan(t, p)
	for _, r := range c2.Repos() {
		if r.Mode == providers.ModeMutable {
			t.Fatalf("%s still mutable after fix", r.Name)
		}
	}
}

// serve answers gRPC for s on a free loopback port until the test ends and
// returns its host:port.
func serve(t testing.TB, s *aremu.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}
