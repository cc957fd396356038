package artifactory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	afemu "github.com/immutag/immutag/internal/emulator/artifactory"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

type collector struct {
	mu    sync.Mutex
	repos []providers.Repository
}

func (c *collector) Repository(r providers.Repository) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repos = append(c.repos, r)
	return nil
}
func (c *collector) Warn(providers.Warning) {}

func fast(o *httpapi.Options) { o.BaseBackoff, o.MaxBackoff = time.Millisecond, 2*time.Millisecond }

func startDemo(t *testing.T) (*afemu.Demo, *Provider) {
	t.Helper()
	d, err := afemu.StartDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	demo := d.(*afemu.Demo)
	return demo, providerFor(t, demo.Provider(), demo.Env())
}

func providerFor(t *testing.T, cfg config.Provider, env map[string]string) *Provider {
	t.Helper()
	p, err := newProvider(cfg, providers.Options{Getenv: func(k string) string { return env[k] }}, fast)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func listAll(t *testing.T, p *Provider) (map[string]providers.Repository, error) {
	t.Helper()
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]providers.Repository{}
	for _, s := range scopes {
		var c collector
		if err := p.Repositories(ctx, s, &c); err != nil {
			return out, err
		}
		for _, r := range c.repos {
			out[r.Scope+"/"+r.Name] = r
		}
	}
	return out, nil
}

func TestAuditNamesHolders(t *testing.T) {
	d, p := startDemo(t)
	d.SetFaults(emulator.Faults{PageSize: 1})
	got, err := listAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]providers.Mode{
		"docker-local/app":       providers.ModePartial,
		"docker-local/tools":     providers.ModePartial,
		"docker-prod/api":        providers.ModeImmutable,
		"docker-mixed/team/app":  providers.ModePartial,
		"docker-mixed/other/app": providers.ModeImmutable,
		"docker-scratch/tmp":     providers.ModeMutable,
	}
	if len(got) != len(want) {
		t.Errorf("listed %d images, want %d (remote and generic repositories are not audited): %v", len(got), len(want), got)
	}
	for k, m := range want {
		if got[k].Mode != m {
			t.Errorf("%s: mode %s, want %s (%+v)", k, got[k].Mode, m, got[k].Immutability)
		}
	}
	if n := got["docker-local/app"].Native; !strings.Contains(n, "user:alice (docker-deployers)") || strings.Contains(n, "ci") {
		t.Errorf("docker-local holders %q: want alice named and ci (no delete) not", n)
	}
	if n := got["docker-mixed/team/app"].Native; !strings.Contains(n, "user:bob") {
		t.Errorf("team/app holders %q: want bob", n)
	}
	if n := got["docker-prod/api"].Native; strings.Contains(n, "admins") {
		t.Errorf("docker-prod: administrators group listed as a holder: %q", n)
	}
}

func TestPlanPrintsPermissionChangeAndApplyRefuses(t *testing.T) {
	d, p := startDemo(t)
	got, err := listAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := got["docker-local/app"]
	ch, err := p.Plan(ctx, r, providers.FixPolicy{MutableTagsAllowed: []string{"latest"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"plan only", "PUT /artifactory/api/v2/security/permissions/docker-deployers",
		"user alice [read,write,delete] -> [read,write]", "**/latest/**"} {
		if !strings.Contains(ch.Action, want) {
			t.Errorf("action %q lacks %q", ch.Action, want)
		}
	}
	if ch.Writes != 0 || ch.Noop || !strings.Contains(ch.HeldBack, "plan only") {
		t.Errorf("plan %+v: want a held-back change with no write", ch)
	}
	calls := d.Calls().Snapshot()
	ch = testutil.Spooled(t, ch)
	_, err = p.Apply(ctx, ch, nil)
	if !errors.Is(err, ErrPlanOnly) || !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("apply: %v, want ErrPlanOnly", err)
	}
	if after := d.Calls().Snapshot(); fmt.Sprint(after) != fmt.Sprint(calls) {
		t.Errorf("apply made calls: %v -> %v", calls, after)
	}
	// The overwrite the report warns about still works.
	if err := d.PushTag(ctx, "docker-local", "app", "v1.0.0"); err != nil {
		t.Errorf("alice overwriting: %v", err)
	}
	// A plan rebuilt without the listing handle reads the targets again.
	r.Handle = nil
	ch2, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil || !strings.Contains(ch2.Action, "alice") {
		t.Errorf("plan without handle: %+v, %v", ch2, err)
	}
	imm := got["docker-prod/api"]
	if ch3, err := p.Plan(ctx, imm, providers.FixPolicy{}); err != nil || !ch3.Noop {
		t.Errorf("plan for an admin-only repository: %+v, %v; want noop", ch3, err)
	}
}

func TestPermissionChangeWouldWork(t *testing.T) {
	// Applying the printed change by hand makes the overwrite fail and the
	// audit report immutable: the plan is the right one.
	d, p := startDemo(t)
	d.SetTarget(afemu.Target{Name: "docker-deployers", Repos: []string{"docker-local"},
		Users:  map[string][]string{"alice": {"read", "write"}},
		Groups: map[string][]string{"ci": {"read", "write"}}})
	ctx := context.Background()
	if err := d.PushTag(ctx, "docker-local", "app", "v1.0.0"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("overwrite after the permission change: %v, want refused", err)
	}
	if err := d.PushTag(ctx, "docker-local", "app", "v2.0.0"); err != nil {
		t.Errorf("new tag after the permission change: %v, want allowed", err)
	}
	got, err := listAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if m := got["docker-local/app"].Mode; m != providers.ModeImmutable {
		t.Errorf("mode after change %s, want immutable", m)
	}
}

func TestTagsWithDigests(t *testing.T) {
	d, p := startDemo(t)
	d.SetFaults(emulator.Faults{PageSize: 3})
	var tags []string
	for i := range 10 {
		tags = append(tags, fmt.Sprintf("v%d", i))
	}
	if err := d.AddImage("docker-prod", "api", tags...); err != nil {
		t.Fatal(err)
	}
	got, err := listAll(t, p)
	if err != nil {
		t.Fatal(err)
	}
	var seen []providers.Tag
	if err := p.Tags(context.Background(), got["docker-prod/api"], func(tg providers.Tag) error { seen = append(seen, tg); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 12 {
		t.Fatalf("%d tags, want 12", len(seen))
	}
	for _, tg := range seen {
		if tg.Digest == "" || tg.Digest != d.Digest("docker-prod", "api", tg.Name) {
			t.Errorf("%+v", tg)
		}
	}
}

func TestUnreadablePermissionsFailTheScope(t *testing.T) {
	d, _ := startDemo(t)
	d.AddUser(afemu.User{Name: "reader", Password: "reader-secret-value"})
	p := providerFor(t, config.Provider{Name: "af", Kind: Kind, Endpoint: d.URL(),
		Credentials: config.Credentials{UsernameEnv: "U", PasswordEnv: "P"}},
		map[string]string{"U": "reader", "P": "reader-secret-value"})
	_, err := listAll(t, p)
	if err == nil || !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "Delete/Overwrite") {
		t.Fatalf("non-admin reader: %v, want a denied scope error explaining what is missing", err)
	}
	bad := providerFor(t, d.Provider(), map[string]string{afemu.DemoTokenEnv: "not-the-token-xyz"})
	_, err = listAll(t, bad)
	if !errors.Is(err, providers.ErrDenied) || strings.Contains(err.Error(), "not-the-token-xyz") {
		t.Errorf("bad token: %v", err)
	}
}

func TestFaultsRetried(t *testing.T) {
	d, p := startDemo(t)
	d.SetFaults(emulator.Faults{ThrottleRate: 0.3, ErrorRate: 0.1, Seed: 11})
	got, err := listAll(t, p)
	if err != nil || len(got) != 6 {
		t.Errorf("under faults: %d images, %v", len(got), err)
	}
}

// Scopes read side by side share their principals: each is looked up once
// (the engine reads scopes concurrently; a plain cache let every scope
// that missed it ask again).
func TestPrincipalLookedUpOnceAcrossConcurrentScopes(t *testing.T) {
	d, p := startDemo(t)
	d.AddGroup("shared", false)
	var names []string
	for i := range 8 {
		name := fmt.Sprintf("docker-shared-%d", i)
		names = append(names, name)
		d.AddRepo(name, "local", "docker")
		if err := d.AddImage(name, "app", "v1"); err != nil {
			t.Fatal(err)
		}
	}
	d.SetTarget(afemu.Target{Name: "shared", Repos: names, Groups: map[string][]string{"shared": {"read", "delete"}}})
	d.SetFaults(emulator.Faults{Latency: 20 * time.Millisecond}) // keep the lookups in flight together
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Calls().Reset()
	var wg sync.WaitGroup
	errs := make(chan error, len(scopes))
	for _, s := range scopes {
		if !strings.HasPrefix(s.Name, "docker-shared-") {
			continue
		}
		wg.Go(func() {
			var c collector
			if err := p.Repositories(ctx, s, &c); err != nil {
				errs <- err
				return
			}
			if len(c.repos) != 1 || !strings.Contains(c.repos[0].Native, "group:shared") {
				errs <- fmt.Errorf("%s: %+v", s.Name, c.repos)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := d.Calls().Get("getGroup"); n != 1 {
		t.Errorf("group looked up %d times by 8 concurrent scopes, want once", n)
	}
}
