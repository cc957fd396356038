package nexus

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	nxemu "github.com/immutag/immutag/internal/emulator/nexus"
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

type recorder struct{ writes []providers.WriteRecord }

func (r *recorder) Write(_ providers.Change, w providers.WriteRecord) { r.writes = append(r.writes, w) }
func (r *recorder) Progress(providers.Change, int64, int64)           {}

func fast(o *httpapi.Options) {
	o.BaseBackoff, o.MaxBackoff = time.Millisecond, 2*time.Millisecond
}

func start(t *testing.T, o nxemu.Options) (*nxemu.Server, *Provider) {
	t.Helper()
	o.Username, o.Password = "auditor", "nexus-test-password"
	s := nxemu.New(o)
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	return s, providerFor(t, sWeb.URL, map[string]string{"NX_USER": "auditor", "NX_PASS": "nexus-test-password"})
}

func providerFor(t *testing.T, endpoint string, env map[string]string) *Provider {
	t.Helper()
	p, err := newProvider(config.Provider{Name: "nx", Kind: Kind, Endpoint: endpoint,
		Credentials: config.Credentials{UsernameEnv: "NX_USER", PasswordEnv: "NX_PASS"}},
		providers.Options{Getenv: func(k string) string { return env[k] }}, fast)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seed(t *testing.T, s *nxemu.Server) {
	t.Helper()
	for _, r := range []struct {
		name, policy string
		latest       bool
	}{{"dev", "ALLOW", false}, {"rel", "ALLOW_ONCE", false}, {"edge", "ALLOW_ONCE", true}, {"arch", "DENY", false}} {
		s.AddDockerHosted(r.name, r.policy, r.latest)
		for i := range 3 {
			if err := s.AddImage(r.name, fmt.Sprintf("team/img%d", i), "latest", "v1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.AddOther("files", "raw", "hosted")
	s.AddOther("proxy", "docker", "proxy")
}

func listAll(t *testing.T, p *Provider) map[string][]providers.Repository {
	t.Helper()
	ctx := context.Background()
	scopes, err := p.Scopes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]providers.Repository{}
	for _, sc := range scopes {
		var c collector
		if err := p.Repositories(ctx, sc, &c); err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		out[sc.Name] = c.repos
	}
	return out
}

func TestAuditModes(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacyLink=%v", legacy), func(t *testing.T) {
			s, p := start(t, nxemu.Options{LegacyCatalogLink: legacy, Faults: emulator.Faults{PageSize: 1}})
			seed(t, s)
			got := listAll(t, p)
			want := map[string]providers.Mode{"dev": providers.ModeMutable, "rel": providers.ModeImmutable,
				"edge": providers.ModePartial, "arch": providers.ModeImmutable}
			if len(got) != len(want) {
				t.Errorf("scopes %v, want only the 4 Docker hosted repositories", keys(got))
			}
			for name, mode := range want {
				if len(got[name]) != 3 {
					t.Errorf("%s: %d images, want 3 (catalog paged by 1)", name, len(got[name]))
				}
				for _, r := range got[name] {
					if r.Mode != mode {
						t.Errorf("%s/%s: mode %s, want %s", name, r.Name, r.Mode, mode)
					}
				}
			}
			if mp := got["edge"][0].MutablePatterns; !reflect.DeepEqual(mp, []string{"latest"}) {
				t.Errorf("edge mutable patterns %v, want [latest]", mp)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHiddenLatestPolicyFailsClosed(t *testing.T) {
	s, p := start(t, nxemu.Options{HideLatestPolicy: true})
	seed(t, s)
	got := listAll(t, p)
	r := got["rel"][0]
	if r.Mode != providers.ModePartial || !reflect.DeepEqual(r.MutablePatterns, []string{"latest"}) || !strings.Contains(r.Note, "latestPolicy") {
		t.Fatalf("ALLOW_ONCE without latestPolicy in the answer: %+v, want partial with latest mutable and a note", r.Immutability)
	}
	// The fix sends latestPolicy=false and says it cannot verify it.
	ctx := context.Background()
	ch, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil || ch.Noop {
		t.Fatalf("plan %+v, %v", ch, err)
	}
	res, err := p.Apply(ctx, ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || !strings.Contains(res.After.Note, "cannot be verified") {
		t.Errorf("result %+v, want verified write policy and a note that latestPolicy cannot be", res)
	}
	if st := s.Settings("rel")["storage"].(map[string]any); st["latestPolicy"] != false || st["writePolicy"] != "ALLOW_ONCE" {
		t.Errorf("stored storage %v", st)
	}
}

func TestFixKeepsFieldsAndRefusesOverwrite(t *testing.T) {
	for _, allowed := range [][]string{nil, {"latest"}, {"latest", "dev-*"}} {
		t.Run(strings.Join(allowed, ","), func(t *testing.T) {
			s, p := start(t, nxemu.Options{})
			seed(t, s)
			before := s.Settings("dev")
			ctx := context.Background()
			repos := listAll(t, p)["dev"]
			pol := providers.FixPolicy{MutableTagsAllowed: allowed}
			var rec recorder
			writes := 0
			for _, r := range repos {
				ch, err := p.Plan(ctx, r, pol)
				if err != nil {
					t.Fatal(err)
				}
				if len(allowed) > 1 {
					if !strings.Contains(ch.HeldBack, "dev-*") {
						t.Fatalf("plan %+v: want it held back naming dev-*", ch)
					}
					// Held back: the engine never applies it. Accepted, it
					// is planned to write.
					ch, err = p.Plan(ctx, r, providers.FixPolicy{MutableTagsAllowed: allowed, AcceptImmutableAllowed: true})
					if err != nil || ch.HeldBack != "" || !strings.Contains(ch.Action, "accepted") {
						t.Fatalf("accepted plan %+v, %v", ch, err)
					}
				}
				ch = testutil.Spooled(t, ch)
				res, err := p.Apply(ctx, ch, &rec)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Verified {
					t.Errorf("%s: not verified: %+v", r.Name, res)
				}
				writes += int(res.Writes)
			}
			if writes != 1 || len(rec.writes) != 1 {
				t.Errorf("%d writes for 3 images of one repository, want 1", writes)
			}
			after := s.Settings("dev")
			st := after["storage"].(map[string]any)
			if st["writePolicy"] != "ALLOW_ONCE" || st["latestPolicy"] != (len(allowed) > 0) {
				t.Errorf("storage after fix: %v", st)
			}
			for _, k := range []string{"cleanup", "component", "docker", "online"} {
				if !reflect.DeepEqual(before[k], after[k]) {
					t.Errorf("%s changed: %v -> %v", k, before[k], after[k])
				}
			}
			if st["blobStoreName"] != "default" || st["strictContentTypeValidation"] != true {
				t.Errorf("storage fields not kept: %v", st)
			}
			if err := push(ctx, s, "dev", "team/img0", "v1"); !errors.Is(err, emulator.ErrTagImmutable) {
				t.Errorf("overwrite of v1 after fix: %v", err)
			}
			err := push(ctx, s, "dev", "team/img0", "latest")
			if (len(allowed) > 0) != (err == nil) {
				t.Errorf("overwrite of latest with allowed %v: %v", allowed, err)
			}
		})
	}
}

func push(ctx context.Context, s *nxemu.Server, repo, image, tag string) error {
	rep, err := emulator.PushManifestTo(ctx, s.Handler(), "/repository/"+repo, image, tag, "auditor", "nexus-test-password", time.Now().String())
	if err != nil {
		return err
	}
	if rep.Code == "DENIED" {
		return fmt.Errorf("%s: %w", rep.Message, emulator.ErrTagImmutable)
	}
	if rep.Status/100 != 2 {
		return fmt.Errorf("HTTP %d %s", rep.Status, rep.Message)
	}
	return nil
}

func TestFixNeverLoosens(t *testing.T) {
	s, p := start(t, nxemu.Options{})
	seed(t, s)
	ctx := context.Background()
	for _, scope := range []string{"rel", "arch"} {
		r := listAll(t, p)[scope][0]
		ch, err := p.Plan(ctx, r, providers.FixPolicy{MutableTagsAllowed: []string{"latest"}})
		if err != nil || !ch.Noop {
			t.Errorf("%s: plan %+v, %v; want noop (already stricter than the policy)", scope, ch, err)
		}
	}
	// An edge repository with latest not allowed: latestPolicy is switched off.
	r := listAll(t, p)["edge"][0]
	ch, err := p.Plan(ctx, r, providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(ctx, ch, nil)
	if err != nil || !res.Verified || res.After.Mode != providers.ModeImmutable {
		t.Errorf("edge fix: %+v, %v", res, err)
	}
}

func TestTags(t *testing.T) {
	s, p := start(t, nxemu.Options{Faults: emulator.Faults{PageSize: 7}})
	s.AddDockerHosted("rel", "ALLOW_ONCE", false)
	var tags []string
	for i := range 30 {
		tags = append(tags, fmt.Sprintf("v%d", i))
	}
	if err := s.AddImage("rel", "team/app", tags...); err != nil {
		t.Fatal(err)
	}
	if err := s.AddImage("rel", "team/app-other", "v1"); err != nil {
		t.Fatal(err)
	}
	r := listAll(t, p)["rel"]
	var app providers.Repository
	for _, x := range r {
		if x.Name == "team/app" {
			app = x
		}
	}
	var got []providers.Tag
	if err := p.Tags(context.Background(), app, func(tg providers.Tag) error { got = append(got, tg); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 {
		t.Fatalf("%d tags, want 30", len(got))
	}
	for _, tg := range got {
		if tg.Digest != s.Digest("rel", "team/app", tg.Name) || tg.Pushed.IsZero() {
			t.Errorf("%+v: digest want %s", tg, s.Digest("rel", "team/app", tg.Name))
		}
	}
}

func TestAuthErrors(t *testing.T) {
	s, _ := start(t, nxemu.Options{})
	seed(t, s)
	ctx := context.Background()
	sWeb := httptest.NewServer(s.Handler())
	t.Cleanup(sWeb.Close)
	bad := providerFor(t, sWeb.URL, map[string]string{"NX_USER": "auditor", "NX_PASS": "wrong-password-123"})
	for range 5 {
		_, err := bad.Scopes(ctx)
		if err == nil || !errors.Is(err, providers.ErrDenied) {
			t.Fatalf("wrong password: %v, want denied", err)
		}
		if strings.Contains(err.Error(), "wrong-password-123") {
			t.Fatal("password leaked into the error")
		}
	}
	// After three failures Nexus blocks the user name: reported as denied
	// with the reason, not retried.
	calls := s.Calls().Get("getRepositories")
	_, err := bad.Scopes(ctx)
	if err == nil || !strings.Contains(err.Error(), "15 minutes") {
		t.Errorf("blocked user: %v, want the block explained", err)
	}
	if n := s.Calls().Get("getRepositories") - calls; n != 1 {
		t.Errorf("blocked user: %d calls, want 1 (no retry)", n)
	}
	s.Deny("rel", true)
	good := providerFor(t, sWeb.URL, map[string]string{"NX_USER": "auditor", "NX_PASS": "nexus-test-password"})
	err = good.Repositories(ctx, providers.Scope{Name: "rel"}, &collector{})
	if !errors.Is(err, providers.ErrDenied) {
		t.Errorf("denied repository: %v", err)
	}
}

func TestThrottledAndFailingCallsRetried(t *testing.T) {
	s, p := start(t, nxemu.Options{Faults: emulator.Faults{ThrottleRate: 0.3, ErrorRate: 0.1, Seed: 3}})
	seed(t, s)
	got := listAll(t, p)
	if len(got) != 4 {
		t.Errorf("%d scopes under faults, want 4", len(got))
	}
}

// TestDemoFixedClean runs what `immutag demo` does with the nexus demo.
func TestDemoFixedClean(t *testing.T) {
	dm, err := nxemu.StartDemo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dm.Close() })
	d := dm.(*nxemu.Demo)
	p, err := newProvider(d.Provider(), providers.Options{Getenv: func(k string) string { return d.Env()[k] }}, fast)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pol := providers.FixPolicy{MutableTagsAllowed: []string{"latest"}}
	for _, rs := range listAll(t, p) {
		for _, r := range rs {
			ch, err := p.Plan(ctx, r, pol)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Apply(ctx, ch, nil); err != nil {
				t.Fatalf("%s/%s: %v", r.Scope, r.Name, err)
			}
		}
	}
	n := 0
	for _, rs := range listAll(t, p) {
		for _, r := range rs {
			n++
			if !r.Immutability.Satisfies(pol.MutableTagsAllowed) {
				t.Errorf("%s/%s after the fix: %+v", r.Scope, r.Name, r.Immutability)
			}
		}
	}
	if n != 5 {
		t.Errorf("demo lists %d images, want 5", n)
	}
	scope, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(ctx, scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("overwrite target after the fix: %v", err)
	}
}

// denyOnWrite denies the repository as soon as the write is reported, so
// the read-back that follows is refused.
type denyOnWrite struct {
	s    *nxemu.Server
	name string
}

func (d denyOnWrite) Write(providers.Change, providers.WriteRecord) { d.s.Deny(d.name, true) }
func (d denyOnWrite) Progress(providers.Change, int64, int64)       {}

// TestReadBackRefusedIsUnverified: a write that went through and a
// read-back that did not is "applied but unverified" (ErrReadBack), as on
// every other kind, not a failed write.
func TestReadBackRefusedIsUnverified(t *testing.T) {
	s, p := start(t, nxemu.Options{})
	seed(t, s)
	ctx := context.Background()
	ch, err := p.Plan(ctx, listAll(t, p)["dev"][0], providers.FixPolicy{})
	if err != nil || ch.Noop {
		t.Fatalf("plan %+v, %v", ch, err)
	}
	res, err := p.Apply(ctx, ch, denyOnWrite{s, "dev"})
	if !errors.Is(err, providers.ErrReadBack) || res.Writes != 1 || res.Verified {
		t.Fatalf("Apply = %+v, %v; want one write, not verified, and ErrReadBack", res, err)
	}
	if st := s.Settings("dev")["storage"].(map[string]any); st["writePolicy"] != "ALLOW_ONCE" {
		t.Errorf("the write did not reach the server: %v", st)
	}
}
