package quay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/quay"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

const (
	tokenEnv = "QUAY_TEST_TOKEN"
	token    = "s3cret-quay-token"
)

type env struct {
	s  *emu.Server
	hs *httptest.Server
	p  *Provider
}

// setup starts an emulator behind an optional wrapping handler and an
// adapter with fast retries pointed at it.
func setup(t *testing.T, wrap func(http.Handler) http.Handler, namespaces ...string) *env {
	t.Helper()
	s := emu.New(emu.Options{Token: token})
	h := s.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	p := newTestProvider(t, hs.URL, namespaces...)
	return &env{s: s, hs: hs, p: p}
}

func newTestProvider(t *testing.T, endpoint string, namespaces ...string) *Provider {
	t.Helper()
	p, err := newProvider(config.Provider{
		Name: "q", Kind: "quay", Endpoint: endpoint, Settings: &Settings{Namespaces: namespaces},
		Credentials: config.Credentials{TokenEnv: tokenEnv},
	}, providers.Options{Getenv: func(k string) string {
		if k == tokenEnv {
			return token
		}
		return ""
	}}, func(o *httpapi.Options) {
		o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 30
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seedAcme(t *testing.T, s *emu.Server) {
	t.Helper()
	s.AddOrg("acme")
	s.AddUser("alice")
	for _, r := range []string{"api", "web", "worker", "inv"} {
		testutil.Must(t, s.AddRepo("acme", r, "latest", "v1.0.0"))
	}
	testutil.Must(t, s.AddRepo("alice", "sandbox", "latest"))
	_, err := s.AddRepoPolicy("acme", "api", ".*", true)
	testutil.Must(t, err)
	_, err = s.AddRepoPolicy("acme", "web", `v[0-9]+\..*`, true)
	testutil.Must(t, err)
	_, err = s.AddRepoPolicy("acme", "inv", "dev-.*", false)
	testutil.Must(t, err)
}

func TestModesOrgAndUser(t *testing.T) {
	e := setup(t, nil, "acme", "alice")
	seedAcme(t, e.s)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	want := map[string]providers.Mode{
		"acme/api": providers.ModeImmutable, "acme/web": providers.ModePartial, "acme/worker": providers.ModeMutable,
		"acme/inv": providers.ModePartial, "alice/sandbox": providers.ModeMutable,
	}
	if len(c.ByKey()) != len(want) {
		t.Fatalf("got %d repositories, want %d", len(c.ByKey()), len(want))
	}
	for k, m := range want {
		if got := c.ByKey()[k].Mode; got != m {
			t.Errorf("%s: mode %s, want %s (%+v)", k, got, m, c.ByKey()[k].Immutability)
		}
	}
	web := c.ByKey()["acme/web"]
	if !slices.Equal(web.ImmutablePatterns, []string{`v[0-9]+\..*`}) || !slices.Equal(web.MutablePatterns, []string{"*"}) || web.Note == "" {
		t.Errorf("web partial details: %+v", web.Immutability)
	}
	if inv := c.ByKey()["acme/inv"]; !slices.Equal(inv.ImmutablePatterns, []string{"!(dev-.*)"}) {
		t.Errorf("inverted policy: %+v", inv.Immutability)
	}
	if got := c.ByKey()["acme/api"].URI; !strings.HasSuffix(got, "/acme/api") {
		t.Errorf("URI %q", got)
	}
	// Organisation policies are read for the organisation only.
	if n := e.s.Calls().Get("listOrgImmutabilityPolicies"); n != 1 {
		t.Errorf("org policy reads: %d, want 1", n)
	}
	if n := e.s.Calls().Get("listRepositoryImmutabilityPolicies"); n != 5 {
		t.Errorf("repo policy reads: %d, want 5", n)
	}
	if c.ByKey()["acme/api"].Handle.(handle).Org != true || c.ByKey()["alice/sandbox"].Handle.(handle).Org {
		t.Error("org/user handle wrong")
	}
}

func TestOrgUniversalPolicy(t *testing.T) {
	e := setup(t, nil, "acme")
	e.s.AddOrg("acme")
	testutil.Must(t, e.s.AddRepo("acme", "a"))
	testutil.Must(t, e.s.AddRepo("acme", "b"))
	_, err := e.s.AddOrgPolicy("acme", "^.*$", true)
	testutil.Must(t, err)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for k, r := range c.ByKey() {
		if r.Mode != providers.ModeImmutable {
			t.Errorf("%s: %s", k, r.Mode)
		}
	}
	if n := e.s.Calls().Get("listRepositoryImmutabilityPolicies"); n != 0 {
		t.Errorf("repo policy reads under a universal org policy: %d", n)
	}
}

func TestPagination(t *testing.T) {
	e := setup(t, nil, "big")
	e.s.AddOrg("big")
	for i := range 230 {
		testutil.Must(t, e.s.AddRepo("big", fmt.Sprintf("r%03d", i)))
	}
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(c.ByKey()) != 230 {
		t.Errorf("got %d repositories, want 230", len(c.ByKey()))
	}
	if n := e.s.Calls().Get("listRepos"); n != 3 {
		t.Errorf("listRepos calls %d, want 3", n)
	}
}

func TestRepeatedCursorStops(t *testing.T) {
	// A server that hands back the same cursor forever must not hang the scan.
	e := setup(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/repository" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"repositories":[{"namespace":"acme","name":"x"}],"next_page":"same"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "acme")
	e.s.AddOrg("acme")
	_, errs := testutil.Scan(t, e.p)
	if !errors.Is(errs["acme"], httpapi.ErrPageLoop) {
		t.Errorf("got %v, want ErrPageLoop", errs["acme"])
	}
}

func TestUnsupported(t *testing.T) {
	e := setup(t, nil, "acme", "alice")
	seedAcme(t, e.s)
	e.s.SetFeature(false)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for k, r := range c.ByKey() {
		if r.Mode != providers.ModeUnsupported || !strings.Contains(r.Note, "FEATURE_IMMUTABLE_TAGS") {
			t.Errorf("%s: %+v", k, r.Immutability)
		}
	}
	if ws := c.Warnings(); len(ws) != 1 || ws[0].Scope != "acme" {
		t.Errorf("warnings: %+v", ws)
	}
	_, err := e.p.Plan(t.Context(), c.ByKey()["acme/worker"], providers.FixPolicy{})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("plan on unsupported: %v", err)
	}
}

func TestFixOrganisationOnce(t *testing.T) {
	e := setup(t, nil, "acme", "alice")
	seedAcme(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	var changes []providers.Change
	for _, k := range []string{"acme/web", "acme/worker", "acme/inv"} {
		ch, err := e.p.Plan(t.Context(), c.ByKey()[k], providers.FixPolicy{})
		testutil.Must(t, err)
		if ch.Noop || ch.Target != "organization-policy" || !strings.Contains(ch.Action, "/api/v1/organization/acme/immutabilitypolicy/") {
			t.Fatalf("plan %s: %+v", k, ch)
		}
		changes = append(changes, ch)
	}
	if noop, _ := e.p.Plan(t.Context(), c.ByKey()["acme/api"], providers.FixPolicy{}); !noop.Noop {
		t.Error("immutable repository should plan a noop")
	}
	if n := e.s.Calls().Get("createOrgImmutabilityPolicy") + e.s.Calls().Get("createRepositoryImmutabilityPolicy"); n != 0 {
		t.Fatalf("plan wrote %d policies", n)
	}
	// Apply concurrently, as the fixer does: one POST in total.
	j := &testutil.Observer{}
	results := testutil.ApplyAll(t, e.p, changes, j)
	if n := e.s.Calls().Get("createOrgImmutabilityPolicy"); n != 1 {
		t.Errorf("org policy POSTs: %d, want 1", n)
	}
	var writes int64
	for i, r := range results {
		if !r.Verified || r.After.Mode != providers.ModeImmutable {
			t.Errorf("result %d: %+v", i, r)
		}
		writes += r.Writes
	}
	if writes != 1 || len(j.Records()) != 1 || j.Records()[0].Err != "" || !strings.HasPrefix(j.Records()[0].Call, "POST ") {
		t.Errorf("writes %d, journal %+v", writes, j.Records())
	}
	// Existing repository policies are untouched.
	if ps := e.s.RepoPolicies("acme", "web"); len(ps) != 1 || ps[0].TagPattern != `v[0-9]+\..*` {
		t.Errorf("web policies changed: %+v", ps)
	}
	// Idempotent re-apply: no write at the emulator.
	before := e.s.Calls().Get("createOrgImmutabilityPolicy")
	bare := changes[0]
	bare = testutil.Spooled(t, bare) // as read back from the fix plan's spool
	r, err := e.p.Apply(t.Context(), bare, j)
	testutil.Must(t, err)
	if r.Writes != 0 || !r.Verified || e.s.Calls().Get("createOrgImmutabilityPolicy") != before {
		t.Errorf("re-apply wrote: %+v", r)
	}
	// A fresh audit plans nothing for acme; the new policy is enforced.
	c2, _ := testutil.Scan(t, e.p)
	for _, k := range []string{"acme/web", "acme/worker", "acme/inv", "acme/api"} {
		ch, err := e.p.Plan(t.Context(), c2.ByKey()[k], providers.FixPolicy{})
		testutil.Must(t, err)
		if !ch.Noop {
			t.Errorf("%s: second plan not noop: %+v", k, ch)
		}
	}
	if c2.ByKey()["alice/sandbox"].Mode != providers.ModeMutable {
		t.Error("the org fix must not touch the user namespace")
	}
	if imm, ok := e.s.TagImmutable("acme", "worker", "latest"); !ok || !imm {
		t.Error("acme/worker:latest should be immutable after the fix")
	}
}

func TestFixUserRepository(t *testing.T) {
	e := setup(t, nil, "alice")
	e.s.AddUser("alice")
	testutil.Must(t, e.s.AddRepo("alice", "sandbox", "latest"))
	testutil.Must(t, e.s.AddRepo("alice", "other", "latest"))
	c, _ := testutil.Scan(t, e.p)
	ch, err := e.p.Plan(t.Context(), c.ByKey()["alice/sandbox"], providers.FixPolicy{})
	testutil.Must(t, err)
	if ch.Target != "" || !strings.Contains(ch.Action, "/api/v1/repository/alice/sandbox/immutabilitypolicy/") {
		t.Fatalf("plan: %+v", ch)
	}
	ch = testutil.Spooled(t, ch) // as read back from the fix plan's spool
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	if !r.Verified || r.Writes != 1 || e.s.Calls().Get("createRepositoryImmutabilityPolicy") != 1 {
		t.Errorf("apply: %+v", r)
	}
	if ps := e.s.RepoPolicies("alice", "other"); len(ps) != 0 {
		t.Errorf("other repository changed: %+v", ps)
	}
}

func TestFixBesideInvertedDotStar(t *testing.T) {
	e := setup(t, nil, "alice")
	e.s.AddUser("alice")
	testutil.Must(t, e.s.AddRepo("alice", "x", "latest"))
	_, err := e.s.AddRepoPolicy("alice", "x", ".*", false)
	testutil.Must(t, err)
	c, _ := testutil.Scan(t, e.p)
	if c.ByKey()["alice/x"].Mode != providers.ModePartial {
		t.Fatalf("inverted .* is not universal: %+v", c.ByKey()["alice/x"].Immutability)
	}
	ch, err := e.p.Plan(t.Context(), c.ByKey()["alice/x"], providers.FixPolicy{})
	testutil.Must(t, err)
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	ps := e.s.RepoPolicies("alice", "x")
	if !r.Verified || len(ps) != 2 || ps[0].TagPattern != ".*" || ps[0].TagPatternMatches || ps[1].TagPattern != "^.*$" {
		t.Errorf("result %+v policies %+v", r, ps)
	}
}

func TestVerifyAfterWrite(t *testing.T) {
	// The server acknowledges the POST but stores nothing: Apply must not
	// claim success.
	e := setup(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"uuid":"lost"}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "acme")
	e.s.AddOrg("acme")
	testutil.Must(t, e.s.AddRepo("acme", "a"))
	c, _ := testutil.Scan(t, e.p)
	ch, err := e.p.Plan(t.Context(), c.ByKey()["acme/a"], providers.FixPolicy{})
	testutil.Must(t, err)
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Verified || r.Writes != 1 || r.After.Mode != providers.ModeMutable {
		t.Errorf("unverified write reported as %+v", r)
	}
}

func TestThrottleStorm(t *testing.T) {
	e := setup(t, nil, "acme", "alice")
	seedAcme(t, e.s)
	clean, _ := testutil.Scan(t, e.p)
	calm := e.s.Calls().Snapshot()
	e.s.Calls().Reset()
	e.s.SetFaults(emulator.Faults{ThrottleRate: 0.6, Seed: 7})
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatalf("storm not ridden out: %v", errs)
	}
	for k, r := range clean.ByKey() {
		if c.ByKey()[k].Mode != r.Mode {
			t.Errorf("%s: %s under throttling, %s without", k, c.ByKey()[k].Mode, r.Mode)
		}
	}
	var before, after int64
	for _, v := range calm {
		before += v
	}
	for _, v := range e.s.Calls().Snapshot() {
		after += v
	}
	if after <= before {
		t.Errorf("no retries seen: %d calls vs %d", after, before)
	}
}

func TestScopeDenied(t *testing.T) {
	e := setup(t, nil, "acme", "alice")
	seedAcme(t, e.s)
	e.s.Deny("acme", true)
	c, errs := testutil.Scan(t, e.p)
	if !errors.Is(errs["acme"], providers.ErrDenied) || !strings.Contains(errs["acme"].Error(), "acme") {
		t.Errorf("acme: %v", errs["acme"])
	}
	if _, ok := c.ByKey()["alice/sandbox"]; !ok || errs["alice"] != nil {
		t.Errorf("alice not listed: %v", errs["alice"])
	}
}

func TestRepositoryReadFailureIsUnknown(t *testing.T) {
	e := setup(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/api/v1/repository/acme/worker/immutabilitypolicy") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"detail":"Unauthorized","error_message":"Unauthorized","error_type":"insufficient_scope","status":403}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "acme")
	seedAcme(t, e.s)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w := c.ByKey()["acme/worker"]
	if w.Mode != providers.ModeUnknown || !strings.Contains(w.Error, "Unauthorized") {
		t.Errorf("worker: %+v", w.Immutability)
	}
	if c.ByKey()["acme/api"].Mode != providers.ModeImmutable {
		t.Error("other repositories must still be read")
	}
}

func TestCredentials(t *testing.T) {
	s := emu.New(emu.Options{Token: token})
	s.AddOrg("acme")
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	p, err := newProvider(config.Provider{Name: "q", Endpoint: hs.URL, Settings: &Settings{Namespaces: []string{"acme"}},
		Credentials: config.Credentials{TokenEnv: tokenEnv}}, providers.Options{Getenv: func(string) string { return "" }}, nil)
	testutil.Must(t, err)
	err = p.Repositories(t.Context(), providers.Scope{Name: "acme"}, &testutil.Emitter{})
	if err == nil || !strings.Contains(err.Error(), tokenEnv) {
		t.Errorf("empty token: %v", err)
	}
	p, _ = newProvider(config.Provider{Name: "q", Endpoint: hs.URL, Credentials: config.Credentials{TokenEnv: tokenEnv}},
		providers.Options{Getenv: func(string) string { return "wrong" }}, nil)
	err = p.Repositories(t.Context(), providers.Scope{Name: "acme"}, &testutil.Emitter{})
	if !errors.Is(err, providers.ErrDenied) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := New(context.Background(), config.Provider{Name: "q"}, providers.Options{}); err == nil {
		t.Error("missing token_env accepted")
	}
	if _, err := New(context.Background(), config.Provider{Name: "q", Endpoint: "ftp://x", Credentials: config.Credentials{TokenEnv: "X"}}, providers.Options{}); err == nil {
		t.Error("bad endpoint accepted")
	}
}

func TestDemoEndToEnd(t *testing.T) {
	d, err := emu.StartDemo(t.Context())
	testutil.Must(t, err)
	defer d.Close()
	envs := d.Env()
	pr, err := New(t.Context(), d.Provider(), providers.Options{Getenv: func(k string) string { return envs[k] }})
	testutil.Must(t, err)
	p := pr.(*Provider)
	e := &env{p: p}
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]providers.Mode{
		"acme/api": providers.ModeImmutable, "acme/web": providers.ModePartial, "acme/worker": providers.ModeMutable,
		"alice/sandbox": providers.ModeMutable, "legacy/tools": providers.ModeUnsupported,
	}
	for k, m := range want {
		if c.ByKey()[k].Mode != m {
			t.Errorf("%s: %s, want %s", k, c.ByKey()[k].Mode, m)
		}
	}
	ns, repo, tag := d.OverwriteTarget()
	testutil.Must(t, d.PushTag(t.Context(), ns, repo, tag))
	ch, err := p.Plan(t.Context(), c.ByKey()[ns+"/"+repo], providers.FixPolicy{})
	testutil.Must(t, err)
	r, err := p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	if !r.Verified {
		t.Fatalf("demo fix not verified: %+v", r)
	}
	if err := d.PushTag(t.Context(), ns, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("overwrite after fix: %v", err)
	}
}

// TestAllowedTagsStayMutable is the policy.mutable_tags_allowed contract on
// Quay: the fix is one inverted policy (tagPatternMatches false) on the
// allowed tags, at organisation or repository level; latest can then be
// re-pushed and a release tag cannot. With nothing allowed, both are refused.
func TestAllowedTagsStayMutable(t *testing.T) {
	for _, tc := range []struct {
		name          string
		allowed       []string
		latestRefused bool
	}{
		{"latest allowed", []string{"latest", "dev-*", "*"}, false},
		{"nothing allowed", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Started on its own listener: the registry push path (PushTag)
			// needs the emulator's URL.
			s := emu.New(emu.Options{Token: token})
			sWeb := httptest.NewServer(s.Handler())
			t.Cleanup(sWeb.Close)
			e := &env{s: s, p: newTestProvider(t, sWeb.URL, "acme", "alice")}
			e.s.AddOrg("acme")
			e.s.AddUser("alice")
			testutil.Must(t, e.s.AddRepo("acme", "worker", "latest", "v1.0.0", "dev-7"))
			testutil.Must(t, e.s.AddRepo("alice", "sandbox", "latest", "v1.0.0"))
			pol := providers.FixPolicy{MutableTagsAllowed: tc.allowed}
			c, _ := testutil.Scan(t, e.p)
			var changes []providers.Change
			for _, k := range []string{"acme/worker", "alice/sandbox"} {
				ch, err := e.p.Plan(t.Context(), c.ByKey()[k], pol)
				testutil.Must(t, err)
				if tc.allowed != nil && !strings.Contains(ch.Action, `"tagPattern":"latest|dev-.*","tagPatternMatches":false`) {
					t.Errorf("%s: action %q", k, ch.Action)
				}
				ch = testutil.Spooled(t, ch) // as read back from the plan's spool
				changes = append(changes, ch)
			}
			for i, r := range testutil.ApplyAll(t, e.p, changes, &testutil.Observer{}) {
				if !r.Verified || r.Writes != 1 {
					t.Errorf("%s: %+v", changes[i].Repository, r)
				}
			}
			c, _ = testutil.Scan(t, e.p)
			for _, k := range []string{"acme/worker", "alice/sandbox"} {
				r := c.ByKey()[k]
				if ev := audit.Evaluate(r, audit.Policy{MutableTagsAllowed: tc.allowed}); ev.Status != audit.StatusCompliant {
					t.Errorf("%s after the fix: %s (%s) %+v", k, ev.Status, ev.Reason, r.Immutability)
				}
				ns, repo, _ := strings.Cut(k, "/")
				if err := e.s.PushTag(t.Context(), ns, repo, "v1.0.0"); !errors.Is(err, emulator.ErrTagImmutable) {
					t.Errorf("%s: release re-push: %v, want refused", k, err)
				}
				err := e.s.PushTag(t.Context(), ns, repo, "latest")
				if refused := errors.Is(err, emulator.ErrTagImmutable); refused != tc.latestRefused {
					t.Errorf("%s: latest re-push: %v, want refused=%v", k, err, tc.latestRefused)
				}
				if ch, err := e.p.Plan(t.Context(), r, pol); err != nil || (tc.allowed != nil && r.Mode != providers.ModePartial) {
					t.Errorf("%s: second plan %+v %v", k, ch, err)
				}
			}
			if tc.allowed != nil {
				if err := e.s.PushTag(t.Context(), "acme", "worker", "dev-7"); err != nil {
					t.Errorf("dev-7 re-push: %v", err)
				}
			}
		})
	}
}

func TestAllowedRegexRoundTrip(t *testing.T) {
	for _, in := range [][]string{{"latest"}, {"latest", "dev-*"}, {"v1.2.*-rc"}, {"a*b*c", "x.y"}} {
		re := allowedRegex(in)
		out, ok := regexWildcards(re)
		if !ok || !slices.Equal(in, out) {
			t.Errorf("%v -> %q -> %v %v", in, re, out, ok)
		}
		if out, ok := regexWildcards("(?:" + re + ")"); !ok || !slices.Equal(in, out) {
			t.Errorf("wrapped %q -> %v %v", re, out, ok)
		}
	}
	for _, re := range []string{".*", "v[0-9]+", "latest$", "a|.*", "", "(latest", `latest\`} {
		if out, ok := regexWildcards(re); ok {
			t.Errorf("%q read as allowed patterns %v", re, out)
		}
	}
}
