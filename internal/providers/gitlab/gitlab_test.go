package gitlab

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	glemu "github.com/immutag/immutag/internal/emulator/gitlab"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

type collector struct {
	mu    sync.Mutex
	repos []providers.Repository
	warns []providers.Warning
}

func (c *collector) Repository(r providers.Repository) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.repos = append(c.repos, r)
	return nil
}

func (c *collector) Warn(w providers.Warning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warns = append(c.warns, w)
}

type recorder struct {
	mu     sync.Mutex
	writes []providers.WriteRecord
}

func (r *recorder) Write(_ providers.Change, w providers.WriteRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, w)
}
func (r *recorder) Progress(providers.Change, int64, int64) {}

func startDemo(t *testing.T) (*glemu.Demo, *Provider) {
	t.Helper()
	d, err := glemu.StartDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	demo := d.(*glemu.Demo)
	return demo, providerFor(t, demo.Provider(), demo.Env())
}

func providerFor(t *testing.T, cfg config.Provider, env map[string]string) *Provider {
	t.Helper()
	p, err := newProvider(cfg, providers.Options{Getenv: func(k string) string { return env[k] },
		Retry: providers.RetryTuning{MaxBackoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func listAll(t *testing.T, p *Provider) map[string]providers.Repository {
	t.Helper()
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]providers.Repository{}
	for _, s := range scopes {
		var c collector
		if err := p.Repositories(ctx, s, &c); err != nil {
			t.Fatalf("scope %s: %v", s.Name, err)
		}
		for _, r := range c.repos {
			out[r.Name] = r
		}
	}
	return out
}

func TestAuditModes(t *testing.T) {
	d, p := startDemo(t)
	d.SetFaults(emulator.Faults{PageSize: 1}) // every listing pages
	repos := listAll(t, p)
	want := map[string]providers.Mode{
		"acme/web":                  providers.ModeMutable,
		"acme/web/app":              providers.ModeMutable,
		"acme/platform/api/server":  providers.ModeImmutable,
		"acme/platform/worker/jobs": providers.ModePartial,
		"acme/legacy/monolith":      providers.ModePartial,
	}
	if len(repos) != len(want) {
		t.Errorf("listed %d repositories, want %d (acme/docs has its registry disabled): %v", len(repos), len(want), keys(repos))
	}
	for name, mode := range want {
		r, ok := repos[name]
		if !ok {
			t.Errorf("%s not listed", name)
			continue
		}
		if r.Mode != mode {
			t.Errorf("%s: mode %s, want %s (%+v)", name, r.Mode, mode, r.Immutability)
		}
		if r.Kind != Kind || !strings.HasSuffix(r.URI, "/"+name) {
			t.Errorf("%s: kind %q uri %q", name, r.Kind, r.URI)
		}
	}
	if n := repos["acme/platform/worker/jobs"].Note; !strings.Contains(n, "Maintainer") {
		t.Errorf("protection-only note %q does not name the roles that can still overwrite", n)
	}
	if got := d.Calls().Get("listGroupProjects"); got < 5 {
		t.Errorf("listGroupProjects called %d times with page size 1 and 5 projects, want >= 5", got)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTagsWithDigestsAndPaging(t *testing.T) {
	d, p := startDemo(t)
	var many []string
	for i := range 45 {
		many = append(many, "t"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	if err := d.AddRepo("acme/web", "big", many...); err != nil {
		t.Fatal(err)
	}
	repos := listAll(t, p)
	var got []providers.Tag
	err := p.Tags(context.Background(), repos["acme/web/big"], func(tg providers.Tag) error {
		got = append(got, tg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 45 {
		t.Fatalf("got %d tags, want 45", len(got))
	}
	for _, tg := range got {
		if want := d.Digest("acme/web/big", tg.Name); tg.Digest != want || tg.Pushed.IsZero() {
			t.Errorf("tag %s: digest %q pushed %v, want %q and a time", tg.Name, tg.Digest, tg.Pushed, want)
		}
	}
	if n := d.Calls().Get("graphql:containerRepositoryTags"); n != 3 {
		t.Errorf("tags pages = %d, want 3 (20 per page)", n)
	}
	// A repository rebuilt without a handle is found by path.
	r := repos["acme/web/app"]
	r.Handle = nil
	n := 0
	if err := p.Tags(context.Background(), r, func(providers.Tag) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("tags without handle: %d, %v; want 2, nil", n, err)
	}
}

func TestFixMakesOverwriteFail(t *testing.T) {
	for _, allowed := range [][]string{nil, {"latest", "dev-*"}} {
		t.Run(strings.Join(allowed, ","), func(t *testing.T) {
			d, p := startDemo(t)
			ctx := context.Background()
			repos := listAll(t, p)
			r := repos["acme/web/app"]
			if err := d.PushTag(ctx, "", r.Name, "v1.0.0"); err != nil {
				t.Fatalf("overwrite before the fix: %v", err)
			}
			pol := providers.FixPolicy{MutableTagsAllowed: allowed}
			ch, err := p.Plan(ctx, r, pol)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Noop || ch.Writes < 1 || !strings.Contains(ch.Action, "createContainerProtectionTagRule") {
				t.Fatalf("plan %+v", ch)
			}
			// The plan is spooled to disk: Apply gets it through JSON.
			ch = testutil.Spooled(t, ch)
			var rec recorder
			res, err := p.Apply(ctx, ch, &rec)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || int64(len(rec.writes)) != ch.Writes {
				t.Fatalf("result %+v, writes %+v", res, rec.writes)
			}
			rules := d.Rules("acme/web")
			if int64(len(rules)) != ch.Writes || slices.ContainsFunc(rules, func(r glemu.Rule) bool { return !r.Immutable() }) {
				t.Fatalf("rules after fix: %+v", rules)
			}
			if err := d.PushTag(ctx, "", r.Name, "v1.0.0"); !errors.Is(err, emulator.ErrTagImmutable) {
				t.Errorf("overwrite of v1.0.0 after the fix: %v, want refused", err)
			}
			err = d.PushTag(ctx, "", r.Name, "latest")
			if len(allowed) > 0 && err != nil {
				t.Errorf("overwrite of allowed latest after the fix: %v", err)
			}
			if len(allowed) == 0 && !errors.Is(err, emulator.ErrTagImmutable) {
				t.Errorf("overwrite of latest with nothing allowed: %v, want refused", err)
			}
			// The second repository of the project is already covered: no write.
			again := listAll(t, p)
			ch2, err := p.Plan(ctx, again["acme/web"], pol)
			if err != nil || !ch2.Noop {
				t.Errorf("plan after fix: %+v, %v; want noop", ch2, err)
			}
			wantMode := providers.ModeImmutable
			if len(allowed) > 0 {
				wantMode = providers.ModePartial
			}
			if again["acme/web"].Mode != wantMode || (len(allowed) > 0 && !slices.Equal(again["acme/web"].MutablePatterns, []string{"dev-*", "latest"})) {
				t.Errorf("after fix: %+v", again["acme/web"].Immutability)
			}
		})
	}
}

func TestFixRefusedForTierIsUnsupported(t *testing.T) {
	d, p := startDemo(t)
	if err := d.AddProject("acme/free", glemu.Project{Free: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddRepo("acme/free", "img", "v1"); err != nil {
		t.Fatal(err)
	}
	r := listAll(t, p)["acme/free/img"]
	ctx := context.Background()
	ch, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(ctx, ch, nil)
	if err == nil || !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("apply on a free project: %v, want an unsupported error", err)
	}
	if res.Verified || res.After.Mode != providers.ModeUnsupported || !strings.Contains(res.After.Note, "Ultimate") {
		t.Errorf("result %+v", res)
	}
	if len(d.Rules("acme/free")) != 0 {
		t.Error("a rule was created")
	}
}

func TestFixWithinRuleLimit(t *testing.T) {
	d, p := startDemo(t)
	m := "MAINTAINER"
	for _, pat := range []string{"^a", "^b", "^c", "^d", "^e"} {
		if _, err := d.AddRule("acme/web", glemu.Rule{Pattern: pat, PushLevel: &m, DeleteLevel: &m}); err != nil {
			t.Fatal(err)
		}
	}
	r := listAll(t, p)["acme/web/app"]
	ch, err := p.Plan(context.Background(), r, providers.FixPolicy{})
	if err != nil || !strings.Contains(ch.HeldBack, "5 per project") {
		t.Fatalf("plan with 5 rules: %+v, %v; want it held back naming the limit", ch, err)
	}
	if _, err := p.Apply(context.Background(), ch, nil); !errors.Is(err, ErrCannotExpress) {
		t.Errorf("apply past the limit: %v, want ErrCannotExpress", err)
	}
	if n := len(d.Rules("acme/web")); n != 5 {
		t.Errorf("%d rules after a refused apply, want 5", n)
	}
}

func TestInexpressibleAllowedIsHeldBack(t *testing.T) {
	d, p := startDemo(t)
	r := listAll(t, p)["acme/web/app"]
	ch, err := p.Plan(context.Background(), r, providers.FixPolicy{MutableTagsAllowed: []string{"latest", "*-rc"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.HeldBack, `"*-rc"`) || !strings.Contains(ch.HeldBack, "--accept-immutable-allowed-tags") || strings.Contains(ch.HeldBack, `"latest"`) {
		t.Errorf("held back %q: want *-rc named (and latest, which can be kept, not)", ch.HeldBack)
	}
	// What it would do once accepted: keep latest, lock the rest.
	if ch.To.Mode != providers.ModePartial || !slices.Equal(ch.To.MutablePatterns, []string{"latest"}) {
		t.Errorf("to %+v", ch.To)
	}
	if len(d.Rules("acme/web")) != 0 {
		t.Error("planning wrote a rule")
	}
	// Accepted: planned, applied, latest kept mutable and *-rc tags locked.
	ctx := context.Background()
	ch, err = p.Plan(ctx, r, providers.FixPolicy{MutableTagsAllowed: []string{"latest", "*-rc"}, AcceptImmutableAllowed: true})
	if err != nil || ch.HeldBack != "" || !strings.Contains(ch.Action, "accepted") {
		t.Fatalf("accepted plan %+v, %v", ch, err)
	}
	ch = testutil.Spooled(t, ch)
	if res, err := p.Apply(ctx, ch, nil); err != nil || !res.Verified {
		t.Fatalf("apply %+v, %v", res, err)
	}
	if err := d.PushTag(ctx, "", r.Name, "latest"); err != nil {
		t.Errorf("latest after the accepted fix: %v", err)
	}
	if err := d.AddRepo("acme/web", "app", "v2-rc"); err != nil {
		t.Fatal(err)
	}
	if err := d.PushTag(ctx, "", r.Name, "v2-rc"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("v2-rc after the accepted fix: %v, want refused", err)
	}
}

func TestDeniedAndBadToken(t *testing.T) {
	d, p := startDemo(t)
	d.Server.Deny("acme/legacy", true)
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, s := range scopes {
		err := p.Repositories(ctx, s, &collector{})
		if s.Name == "acme/legacy" {
			if err == nil || !errors.Is(err, providers.ErrNotFound) {
				t.Errorf("denied project: %v, want a not-found error", err)
			}
			failed++
		} else if err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	if failed != 1 {
		t.Errorf("denied scope seen %d times", failed)
	}

	env := d.Env()
	bad := map[string]string{glemu.DemoTokenEnv: "glpat-wrong-secret-value"}
	_ = env
	q := providerFor(t, d.Provider(), bad)
	_, err = q.Scopes(ctx)
	if err == nil || !errors.Is(err, providers.ErrDenied) {
		t.Fatalf("bad token: %v, want denied", err)
	}
	if strings.Contains(err.Error(), "glpat-wrong") {
		t.Error("the token leaked into the error")
	}
	none := providerFor(t, d.Provider(), map[string]string{})
	if _, err := none.Scopes(ctx); err == nil || !strings.Contains(err.Error(), glemu.DemoTokenEnv) {
		t.Errorf("unset token variable: %v, want an error naming it", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	d, p := startDemo(t)
	d.SetFaults(emulator.Faults{ThrottleRate: 0.3, ErrorRate: 0.1, Seed: 7})
	repos := listAll(t, p)
	if len(repos) != 5 {
		t.Errorf("listed %d repositories under faults, want 5", len(repos))
	}
}

func TestConstructorErrors(t *testing.T) {
	for _, c := range []config.Provider{
		{Name: "g", Kind: Kind, Credentials: config.Credentials{TokenEnv: "T"}},
		{Name: "g", Kind: Kind, Settings: config.Keys{"groups": []string{"a"}}},
		{Name: "g", Kind: Kind, Endpoint: "ftp://x", Settings: config.Keys{"groups": []string{"a"}}, Credentials: config.Credentials{TokenEnv: "T"}},
	} {
		if _, err := newProvider(c, providers.Options{}); err == nil {
			t.Errorf("newProvider(%+v): want an error", c)
		}
	}
}

// TestDemoFixedClean runs what `immutag demo` does with the gitlab demo:
// fix everything under mutable_tags_allowed [latest], then nothing drifts
// and the overwrite target is refused.
func TestDemoFixedClean(t *testing.T) {
	d, p := startDemo(t)
	ctx := context.Background()
	pol := providers.FixPolicy{MutableTagsAllowed: []string{"latest"}}
	for _, r := range listAll(t, p) {
		ch, err := p.Plan(ctx, r, pol)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		ch = testutil.Spooled(t, ch)
		if _, err := p.Apply(ctx, ch, nil); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
	}
	for name, r := range listAll(t, p) {
		if !r.Immutability.Satisfies(pol.MutableTagsAllowed) {
			t.Errorf("%s after the fix: %+v", name, r.Immutability)
		}
	}
	scope, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(ctx, scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("overwrite target after the fix: %v", err)
	}
}

// denyOnWrite denies the project as soon as the rule is written, so the
// read-back that follows is refused.
type denyOnWrite struct {
	d       *glemu.Demo
	project string
}

func (w denyOnWrite) Write(providers.Change, providers.WriteRecord) { w.d.Server.Deny(w.project, true) }
func (w denyOnWrite) Progress(providers.Change, int64, int64)       {}

// TestReadBackRefusedIsUnverified: a rule that was created and a read-back
// that was refused is "applied but unverified" (ErrReadBack), as on every
// other kind, not a failed write.
func TestReadBackRefusedIsUnverified(t *testing.T) {
	d, p := startDemo(t)
	if err := d.AddProject("acme/svc", glemu.Project{}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddRepo("acme/svc", "img", "v1"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ch, err := p.Plan(ctx, listAll(t, p)["acme/svc/img"], providers.FixPolicy{})
	if err != nil || ch.Noop {
		t.Fatalf("plan %+v, %v", ch, err)
	}
	res, err := p.Apply(ctx, ch, denyOnWrite{d, "acme/svc"})
	if !errors.Is(err, providers.ErrReadBack) || res.Writes == 0 || res.Verified {
		t.Fatalf("Apply = %+v, %v; want the write made, not verified, and ErrReadBack", res, err)
	}
	if len(d.Rules("acme/svc")) == 0 {
		t.Error("the rule did not reach the server")
	}
}
