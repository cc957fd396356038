package harbor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/harbor"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

const (
	userEnv = "HARBOR_TEST_USER"
	passEnv = "HARBOR_TEST_PASS"
	user    = "robot$scanner"
	pass    = "s3cret-harbor-pass"
)

type env struct {
	s  *emu.Server
	hs *httptest.Server
	p  *Provider
}

type setupOpts struct {
	wrap     func(http.Handler) http.Handler
	projects []string
	client   *http.Client
}

func setup(t *testing.T, o setupOpts) *env {
	t.Helper()
	s := emu.New(emu.Options{Username: user, Password: pass})
	h := s.Handler()
	if o.wrap != nil {
		h = o.wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	p, err := newProvider(config.Provider{
		Name: "h", Kind: "harbor", Endpoint: hs.URL, Settings: &Settings{Projects: o.projects},
		Credentials: config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv},
	}, providers.Options{HTTPClient: o.client, Getenv: testEnv}, func(o *httpapi.Options) {
		o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 30
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{s: s, hs: hs, p: p}
}

func testEnv(k string) string {
	return map[string]string{userEnv: user, passEnv: pass}[k]
}

// seed mirrors the demo: library (none), apps (** excludes latest), infra
// (disabled universal), partial (v* only).
func seed(t *testing.T, s *emu.Server) {
	t.Helper()
	for p, repos := range map[string][]string{
		"library": {"nginx"}, "apps": {"frontend", "backend"}, "infra": {"tools/ci"}, "partial": {"svc"},
	} {
		s.AddProject(p, false)
		for _, r := range repos {
			testutil.Must(t, s.AddRepo(p, r, "latest", "v1"))
		}
	}
	_, err := s.AddRule("apps", emu.NewRule("repoMatches", "**", "excludes", "latest"))
	testutil.Must(t, err)
	off := emu.NewRule("repoMatches", "**", "matches", "**")
	off.Disabled = true
	_, err = s.AddRule("infra", off)
	testutil.Must(t, err)
	_, err = s.AddRule("partial", emu.NewRule("repoMatches", "**", "matches", "v*"))
	testutil.Must(t, err)
}

func TestModes(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]providers.Mode{
		"library/nginx": providers.ModeMutable, "apps/frontend": providers.ModePartial, "apps/backend": providers.ModePartial,
		"infra/tools/ci": providers.ModeMutable, "partial/svc": providers.ModePartial,
	}
	if len(c.ByKey()) != len(want) {
		t.Fatalf("got %d repositories: %v", len(c.ByKey()), c.ByKey())
	}
	for k, m := range want {
		if c.ByKey()[k].Mode != m {
			t.Errorf("%s: %s, want %s (%+v)", k, c.ByKey()[k].Mode, m, c.ByKey()[k].Immutability)
		}
	}
	if got := c.ByKey()["apps/frontend"].MutablePatterns; !slices.Equal(got, []string{"latest"}) {
		t.Errorf("apps mutable patterns %q", got)
	}
	if got := c.ByKey()["partial/svc"]; !slices.Equal(got.ImmutablePatterns, []string{"v*"}) || !slices.Equal(got.MutablePatterns, []string{"*"}) {
		t.Errorf("partial: %+v", got.Immutability)
	}
	if n := c.ByKey()["infra/tools/ci"]; !strings.Contains(n.Native, "disabled") || n.Note == "" {
		t.Errorf("infra native %q note %q", n.Native, n.Note)
	}
	if u := c.ByKey()["infra/tools/ci"].URI; !strings.HasSuffix(u, "/infra/tools/ci") {
		t.Errorf("URI %q", u)
	}
	// One rule read per project, however many repositories it has.
	if n := e.s.Calls().Get("ListImmuRules"); n != 4 {
		t.Errorf("rule reads %d, want 4", n)
	}
}

func TestRepositoryNameWithoutProjectPrefix(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("infra", false)
	testutil.Must(t, e.s.AddRepo("infra", "tools/ci", "v1"))
	testutil.Must(t, e.s.AddRepo("infra", "app", "v1"))
	// "infra/**" would match the full name "infra/tools/ci"; Harbor matches
	// "tools/ci", so the rule covers nothing here.
	_, err := e.s.AddRule("infra", emu.NewRule("repoMatches", "infra/**", "matches", "**"))
	testutil.Must(t, err)
	_, err = e.s.AddRule("infra", emu.NewRule("repoMatches", "{app,web}", "matches", "v*"))
	testutil.Must(t, err)
	c, _ := testutil.Scan(t, e.p)
	if got := c.ByKey()["infra/tools/ci"]; got.Mode != providers.ModeMutable || got.Name != "tools/ci" {
		t.Errorf("tools/ci: %+v", got)
	}
	if got := c.ByKey()["infra/app"]; got.Mode != providers.ModePartial {
		t.Errorf("app: %+v", got.Immutability)
	}
	// The emulator's enforcement agrees with the adapter's reading.
	if imm, ok := e.s.TagImmutable("infra", "tools/ci", "v1"); !ok || imm {
		t.Error("emulator: tools/ci:v1 should be mutable")
	}
	if imm, ok := e.s.TagImmutable("infra", "app", "v1"); !ok || !imm {
		t.Error("emulator: app:v1 should be immutable")
	}
}

func TestPagination(t *testing.T) {
	e := setup(t, setupOpts{})
	for i := range 7 {
		name := fmt.Sprintf("p%d", i)
		e.s.AddProject(name, false)
		for j := range 5 {
			testutil.Must(t, e.s.AddRepo(name, fmt.Sprintf("r%d", j)))
		}
	}
	_, err := e.s.AddRule("p3", emu.NewRule("repoMatches", "**", "matches", "**"))
	testutil.Must(t, err)
	for i := range 3 {
		_, err := e.s.AddRule("p4", emu.NewRule("repoMatches", "**", "matches", fmt.Sprintf("v%d*", i)))
		testutil.Must(t, err)
	}
	e.s.SetFaults(emulator.Faults{PageSize: 2})
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(c.ByKey()) != 35 {
		t.Errorf("got %d repositories, want 35", len(c.ByKey()))
	}
	if n := e.s.Calls().Get("listProjects"); n != 4 {
		t.Errorf("project pages %d, want 4", n)
	}
	if n := e.s.Calls().Get("listRepositories"); n != 7*3 {
		t.Errorf("repository pages %d, want 21", n)
	}
	if got := c.ByKey()["p3/r4"].Mode; got != providers.ModeImmutable {
		t.Errorf("p3/r4: %s", got)
	}
	if got := c.ByKey()["p4/r0"]; !slices.Equal(got.ImmutablePatterns, []string{"v0*", "v1*", "v2*"}) {
		t.Errorf("rules across pages: %+v", got.Immutability)
	}
}

func TestForeignNextLinkRefused(t *testing.T) {
	e := setup(t, setupOpts{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/repositories") {
				w.Header().Set("Link", `<http://evil.example/api/v2.0/projects/a/repositories?page=2>; rel="next"`)
			}
			h.ServeHTTP(w, r)
		})
	}})
	e.s.AddProject("a", false)
	testutil.Must(t, e.s.AddRepo("a", "x"))
	_, errs := testutil.Scan(t, e.p)
	if !errors.Is(errs["a"], httpapi.ErrForeignURL) {
		t.Errorf("got %v, want ErrForeignURL", errs["a"])
	}
}

func TestProxyCacheProjectExemptByDefault(t *testing.T) {
	e := setup(t, setupOpts{})
	e.s.AddProject("dockerhub-cache", true)
	e.s.AddProject("own", false)
	e.s.SetProxyCache("dockerhub-cache", 4)
	testutil.Must(t, e.s.AddRepo("dockerhub-cache", "library/alpine"))
	testutil.Must(t, e.s.AddRepo("own", "app"))
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if r := c.ByKey()["dockerhub-cache/library/alpine"]; r.Mode != providers.ModeMutable || r.DefaultExemption == "" {
		t.Errorf("proxy cache: %+v", r)
	}
	if r := c.ByKey()["own/app"]; r.DefaultExemption != "" {
		t.Errorf("normal project exempt: %+v", r)
	}
}

func TestConfiguredProjectsByName(t *testing.T) {
	e := setup(t, setupOpts{projects: []string{"2024", "apps"}})
	e.s.AddProject("filler", false)
	e.s.AddProject("apps", false)
	e.s.AddProject("2024", false) // an all-digit name, not id 2024
	testutil.Must(t, e.s.AddRepo("2024", "x"))
	testutil.Must(t, e.s.AddRepo("apps", "y"))
	_, err := e.s.AddRule("2024", emu.NewRule("repoMatches", "**", "matches", "**"))
	testutil.Must(t, err)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if c.ByKey()["2024/x"].Mode != providers.ModeImmutable || c.ByKey()["apps/y"].Mode != providers.ModeMutable {
		t.Errorf("got %+v", c.ByKey())
	}
	if e.s.Calls().Get("listProjects") != 0 || e.s.Calls().Get("getProject") != 2 {
		t.Errorf("calls %v", e.s.Calls().Snapshot())
	}
}

func planAll(t *testing.T, p *Provider, c *testutil.Emitter, pol providers.FixPolicy, keys ...string) []providers.Change {
	t.Helper()
	var out []providers.Change
	for _, k := range keys {
		ch, err := p.Plan(t.Context(), c.ByKey()[k], pol)
		testutil.Must(t, err)
		out = append(out, ch)
	}
	return out
}

func TestFixOneWritePerProject(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	testutil.Must(t, e.s.AddRepo("library", "busybox", "latest"))
	c, _ := testutil.Scan(t, e.p)
	changes := planAll(t, e.p, c, providers.FixPolicy{}, "library/nginx", "library/busybox", "apps/frontend", "apps/backend", "partial/svc")
	for _, ch := range changes {
		if ch.Noop || ch.Target != "project-rule" || ch.Writes != 1 || ch.To.Mode != providers.ModeImmutable {
			t.Fatalf("plan %+v", ch)
		}
	}
	if n := e.s.Calls().Get("CreateImmuRule") + e.s.Calls().Get("UpdateImmuRule"); n != 0 {
		t.Fatalf("plan wrote %d times", n)
	}
	j := &testutil.Observer{}
	results := testutil.ApplyAll(t, e.p, changes, j)
	if n := e.s.Calls().Get("CreateImmuRule"); n != 3 {
		t.Errorf("rule POSTs %d, want one per project (3)", n)
	}
	for i, r := range results {
		if !r.Verified || r.After.Mode != providers.ModeImmutable {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if len(j.Records()) != 3 {
		t.Errorf("journal %+v", j.Records())
	}
	// Existing rules are untouched.
	if rs := e.s.Rules("apps"); len(rs) != 2 || rs[0].TagSelectors[0].Decoration != "excludes" || rs[0].Disabled {
		t.Errorf("apps rules changed: %+v", rs)
	}
	// Re-apply writes nothing; a fresh audit plans nothing.
	e.s.Calls().Reset()
	for _, ch := range changes {
		r, err := e.p.Apply(t.Context(), ch, j)
		testutil.Must(t, err)
		if r.Writes != 0 || !r.Verified {
			t.Errorf("re-apply %+v", r)
		}
	}
	if n := e.s.Calls().Get("CreateImmuRule") + e.s.Calls().Get("UpdateImmuRule"); n != 0 {
		t.Errorf("re-apply wrote %d times", n)
	}
	c2, _ := testutil.Scan(t, e.p)
	for _, k := range []string{"library/nginx", "apps/frontend", "partial/svc"} {
		ch, err := e.p.Plan(t.Context(), c2.ByKey()[k], providers.FixPolicy{})
		testutil.Must(t, err)
		if !ch.Noop {
			t.Errorf("%s: second plan %+v", k, ch)
		}
	}
	if imm, ok := e.s.TagImmutable("library", "nginx", "latest"); !ok || !imm {
		t.Error("library/nginx:latest should be immutable after the fix")
	}
}

func TestFixKeepsAllowedPatterns(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	pol := providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev"}}
	// apps leaves only latest mutable: already compliant with this policy.
	if ch, err := e.p.Plan(t.Context(), c.ByKey()["apps/frontend"], pol); err != nil || !ch.Noop {
		t.Errorf("apps plan: %+v %v", ch, err)
	}
	ch, err := e.p.Plan(t.Context(), c.ByKey()["library/nginx"], pol)
	testutil.Must(t, err)
	if ch.To.Mode != providers.ModePartial || !slices.Equal(ch.To.MutablePatterns, []string{"latest", "dev"}) {
		t.Fatalf("plan %+v", ch)
	}
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	if !r.Verified || !slices.Equal(r.After.MutablePatterns, []string{"latest", "dev"}) {
		t.Errorf("apply %+v", r)
	}
	rs := e.s.Rules("library")
	if len(rs) != 1 || rs[0].TagSelectors[0].Decoration != "excludes" || rs[0].TagSelectors[0].Pattern != "{latest,dev}" {
		t.Errorf("rule written: %+v", rs)
	}
	if imm, _ := e.s.TagImmutable("library", "nginx", "latest"); imm {
		t.Error("latest is allowed to stay mutable")
	}
	if imm, _ := e.s.TagImmutable("library", "nginx", "v1"); !imm {
		t.Error("v1 must be immutable")
	}
}

func TestReenableDisabledIdenticalRule(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	ch := planAll(t, e.p, c, providers.FixPolicy{}, "infra/tools/ci")[0]
	j := &testutil.Observer{}
	r, err := e.p.Apply(t.Context(), ch, j)
	testutil.Must(t, err)
	if e.s.Calls().Get("CreateImmuRule") != 0 || e.s.Calls().Get("UpdateImmuRule") != 1 {
		t.Errorf("calls %v: want one PUT and no POST", e.s.Calls().Snapshot())
	}
	rs := e.s.Rules("infra")
	if len(rs) != 1 || rs[0].Disabled || rs[0].TagSelectors[0].Pattern != "**" {
		t.Errorf("rules %+v", rs)
	}
	if !r.Verified || r.Writes != 1 || len(j.Records()) != 1 || !strings.HasPrefix(j.Records()[0].Call, "PUT ") {
		t.Errorf("result %+v journal %+v", r, j.Records())
	}
}

func TestConflictResolvedByReadBack(t *testing.T) {
	var s *emu.Server
	e := setup(t, setupOpts{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				// Someone else creates the same rule just before our POST lands.
				_, _ = s.AddRule("library", emu.NewRule("repoMatches", "**", "matches", "**"))
			}
			h.ServeHTTP(w, r)
		})
	}})
	s = e.s
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	ch := planAll(t, e.p, c, providers.FixPolicy{}, "library/nginx")[0]
	j := &testutil.Observer{}
	r, err := e.p.Apply(t.Context(), ch, j)
	testutil.Must(t, err)
	if !r.Verified || len(e.s.Rules("library")) != 1 || len(j.Records()) != 1 || !strings.Contains(j.Records()[0].Err, "409") {
		t.Errorf("result %+v journal %+v rules %+v", r, j.Records(), e.s.Rules("library"))
	}
}

func TestConflictWithoutRuleIsNotSuccess(t *testing.T) {
	e := setup(t, setupOpts{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(http.StatusConflict)
				_, _ = w.Write([]byte(`{"errors":[{"code":"CONFLICT","message":"immutable rule already exists"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	ch := planAll(t, e.p, c, providers.FixPolicy{}, "library/nginx")[0]
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	if err == nil || r.Verified || providers.ClassOf(err) != providers.ErrOther {
		t.Errorf("409 with nothing to show for it: %+v %v", r, err)
	}
}

func TestVerifyAfterWrite(t *testing.T) {
	e := setup(t, setupOpts{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				w.Header().Set("Location", r.URL.Path+"/99")
				w.WriteHeader(http.StatusCreated) // acknowledged, never stored
				return
			}
			h.ServeHTTP(w, r)
		})
	}})
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	ch := planAll(t, e.p, c, providers.FixPolicy{}, "library/nginx")[0]
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	if r.Verified || r.Writes != 1 || r.After.Mode != providers.ModeMutable {
		t.Errorf("unverified write reported as %+v", r)
	}
}

func TestThrottleStorm(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	clean, _ := testutil.Scan(t, e.p)
	e.s.Calls().Reset()
	e.s.SetFaults(emulator.Faults{ThrottleRate: 0.6, Seed: 3})
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatalf("storm not ridden out: %v", errs)
	}
	for k, r := range clean.ByKey() {
		if c.ByKey()[k].Mode != r.Mode {
			t.Errorf("%s: %s under throttling, %s without", k, c.ByKey()[k].Mode, r.Mode)
		}
	}
	if n := e.s.Calls().Get("ListImmuRules"); n <= 4 {
		t.Errorf("no retries seen (%d rule reads)", n)
	}
	// Writes ride it out too.
	ch := planAll(t, e.p, c, providers.FixPolicy{}, "library/nginx")[0]
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	if err != nil || !r.Verified {
		t.Errorf("apply under throttling: %+v %v", r, err)
	}
	if n := len(e.s.Rules("library")); n != 1 {
		t.Errorf("%d rules after a throttled create", n)
	}
}

func TestScopeDenied(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	e.s.Deny("apps", true)
	c, errs := testutil.Scan(t, e.p)
	if len(errs) != 1 || !errors.Is(errs["apps"], providers.ErrDenied) || !strings.Contains(errs["apps"].Error(), "apps") {
		t.Errorf("errors %v", errs)
	}
	if len(c.ByKey()) != 3 {
		t.Errorf("other projects: %v", c.ByKey())
	}
}

func TestCredentialsAndNoCookieJar(t *testing.T) {
	jar, _ := cookiejar.New(nil)
	var sawCookie bool
	e := setup(t, setupOpts{client: &http.Client{Jar: jar}, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if len(r.Cookies()) > 0 {
				sawCookie = true
			}
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "session", Path: "/"})
			h.ServeHTTP(w, r)
		})
	}})
	seed(t, e.s)
	if _, errs := testutil.Scan(t, e.p); len(errs) > 0 {
		t.Fatal(errs)
	}
	if sawCookie {
		t.Error("a session cookie was sent back: Harbor would require a CSRF token")
	}
	p, err := newProvider(config.Provider{Name: "h", Endpoint: e.hs.URL,
		Credentials: config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv}},
		providers.Options{Getenv: func(k string) string {
			if k == passEnv {
				return "wrong"
			}
			return testEnv(k)
		}}, nil)
	testutil.Must(t, err)
	_, err = p.Scopes(t.Context())
	if !errors.Is(err, providers.ErrDenied) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
	p, _ = newProvider(config.Provider{Name: "h", Endpoint: e.hs.URL,
		Credentials: config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv}}, providers.Options{Getenv: func(string) string { return "" }}, nil)
	if _, err := p.Scopes(t.Context()); err == nil || !strings.Contains(err.Error(), passEnv) {
		t.Errorf("unset variables: %v", err)
	}
	for _, cfg := range []config.Provider{
		{Name: "h", Credentials: config.Credentials{UsernameEnv: "U", PasswordEnv: "P"}},
		{Name: "h", Endpoint: "harbor.example.com", Credentials: config.Credentials{UsernameEnv: "U", PasswordEnv: "P"}},
		{Name: "h", Endpoint: "https://harbor.example.com"},
	} {
		if _, err := New(context.Background(), cfg, providers.Options{}); err == nil {
			t.Errorf("accepted %+v", cfg)
		}
	}
}

func TestDemoEndToEnd(t *testing.T) {
	d, err := emu.StartDemo(t.Context())
	testutil.Must(t, err)
	defer d.Close()
	envs := d.Env()
	pr, err := New(t.Context(), d.Provider(), providers.Options{Getenv: func(k string) string { return envs[k] }})
	testutil.Must(t, err)
	e := &env{p: pr.(*Provider)}
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]providers.Mode{
		"library/nginx": providers.ModeMutable, "apps/frontend": providers.ModePartial,
		"infra/tools/ci": providers.ModeMutable, "partial/svc": providers.ModePartial,
	}
	for k, m := range want {
		if c.ByKey()[k].Mode != m {
			t.Errorf("%s: %s, want %s", k, c.ByKey()[k].Mode, m)
		}
	}
	proj, repo, tag := d.OverwriteTarget()
	testutil.Must(t, d.PushTag(t.Context(), proj, repo, tag))
	ch, err := e.p.Plan(t.Context(), c.ByKey()[proj+"/"+repo], providers.FixPolicy{})
	testutil.Must(t, err)
	r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{})
	testutil.Must(t, err)
	if !r.Verified {
		t.Fatalf("not verified: %+v", r)
	}
	if err := d.PushTag(t.Context(), proj, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("overwrite after fix: %v", err)
	}
}

// A fix plan is spooled to disk: Apply works from the change's Ref alone,
// derives the rule from the allow-list Plan saw, and reuses the project id
// the listing saw instead of looking it up again. Another adapter
// instance (one that planned nothing) applies it the same way.
func TestApplyFromSpooledChange(t *testing.T) {
	e := setup(t, setupOpts{})
	seed(t, e.s)
	c, _ := testutil.Scan(t, e.p)
	bare := func(ch providers.Change) providers.Change { return testutil.Spooled(t, ch) }
	planned := planAll(t, e.p, c, providers.FixPolicy{MutableTagsAllowed: []string{"dev-*"}}, "library/nginx")
	noRef := bare(planned[0])
	noRef.Ref = nil
	if _, err := e.p.Apply(t.Context(), noRef, &testutil.Observer{}); !errors.Is(err, providers.ErrBadRef) {
		t.Fatalf("Apply of a change without a ref: %v, want ErrBadRef", err)
	}
	// A fresh adapter instance against the same Harbor: it saw no listing.
	fresh, err := newProvider(config.Provider{
		Name: "h", Kind: "harbor", Endpoint: e.hs.URL,
		Credentials: config.Credentials{UsernameEnv: userEnv, PasswordEnv: passEnv},
	}, providers.Options{Getenv: testEnv}, nil)
	testutil.Must(t, err)
	e.s.Calls().Reset()
	r, err := fresh.Apply(t.Context(), bare(planned[0]), &testutil.Observer{})
	testutil.Must(t, err)
	if !r.Verified || r.Writes != 1 || r.After.Mode != providers.ModePartial {
		t.Fatalf("apply from the spooled change: %+v", r)
	}
	if n := e.s.Calls().Get("getProject"); n != 0 {
		t.Errorf("%d project lookups; the id seen while planning should be reused", n)
	}
	rs := e.s.Rules("library")
	last := rs[len(rs)-1]
	if last.TagSelectors[0].Decoration != "excludes" || last.TagSelectors[0].Pattern != "dev-*" {
		t.Errorf("rule written %+v, want excludes dev-* (the policy's allow-list)", last.TagSelectors[0])
	}
}
