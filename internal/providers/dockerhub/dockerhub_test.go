package dockerhub_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/dockerhub"
	"github.com/immutag/immutag/internal/testutil"
)

func TestModesAndPagination(t *testing.T) {
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{PageSize: 4}})
	addRepo(t, s, "acme", "disabled", true, false)
	addRepo(t, s, "acme", "universal", false, true, ".*")
	addRepo(t, s, "acme", "anchored", false, true, "^.*$")
	addRepo(t, s, "acme", "partial", true, true, `^v[0-9]+$`, "release-.*")
	addRepo(t, s, "acme", "leftover", false, false, ".*")
	addRepo(t, s, "acme", "norules", false, true)
	for i := range 11 {
		addRepo(t, s, "acme", fmt.Sprintf("filler-%02d", i), false, false)
	}
	addRepo(t, s, "other", "not-in-scope", false, false)

	c, errs := testutil.Scan(t, newProvider(t, s, nil))
	if len(errs) != 0 {
		t.Fatalf("scope errors: %v", errs)
	}
	if got := len(c.Keys()); got != 17 || c.Dups() != 0 {
		t.Fatalf("emitted %d repositories (%d duplicates), want 17 once each: %v", got, c.Dups(), c.Keys())
	}
	// 17 repositories at 4 per page: 5 pages, then one GET per repository.
	if l, g := s.Calls().Get(hubemu.OpListRepositories), s.Calls().Get(hubemu.OpGetRepository); l != 5 || g != 17 {
		t.Fatalf("list calls %d, get calls %d; want 5 and 17", l, g)
	}
	want := map[string]struct {
		mode              providers.Mode
		native            string
		immutable, mutble []string
	}{
		"disabled":  {providers.ModeMutable, "enabled=false rules=[]", nil, nil},
		"universal": {providers.ModeImmutable, "enabled=true rules=[.*]", []string{".*"}, nil},
		"anchored":  {providers.ModeImmutable, "enabled=true rules=[^.*$]", []string{"^.*$"}, nil},
		"partial":   {providers.ModePartial, "enabled=true rules=[^v[0-9]+$ release-.*]", []string{"^v[0-9]+$", "release-.*"}, []string{"*"}},
		"leftover":  {providers.ModeMutable, "enabled=false rules=[.*]", nil, nil},
		"norules":   {providers.ModePartial, "enabled=true rules=[]", nil, []string{"*"}},
	}
	for name, w := range want {
		r := c.ByKey()["acme/"+name]
		if r.Mode != w.mode || r.Native != w.native || !slices.Equal(r.ImmutablePatterns, w.immutable) || !slices.Equal(r.MutablePatterns, w.mutble) {
			t.Errorf("%s: mode=%s native=%q immutable=%q mutable=%q; want %s %q %q %q",
				name, r.Mode, r.Native, r.ImmutablePatterns, r.MutablePatterns, w.mode, w.native, w.immutable, w.mutble)
		}
		if r.Provider != "hub-test" || r.Kind != providers.KindDockerHub || r.Scope != "acme" || !strings.HasSuffix(r.URI, "/acme/"+name) {
			t.Errorf("%s: identity %+v", name, r)
		}
	}
	if !strings.Contains(c.ByKey()["acme/leftover"].Note, "no effect") {
		t.Errorf("disabled-with-rules note = %q", c.ByKey()["acme/leftover"].Note)
	}
	if len(c.Warnings()) != 0 {
		t.Errorf("warnings with private repositories visible: %v", c.Warnings())
	}
}

func TestPerRepositoryDeniedIsUnknown(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "open", false, true, ".*")
	addRepo(t, s, "acme", "locked", true, true, ".*")
	addRepo(t, s, "acme", "gone", false, false)
	s.DenyRepository("acme", "locked", http.StatusForbidden)
	s.DenyRepository("acme", "gone", http.StatusNotFound)

	c, errs := testutil.Scan(t, newProvider(t, s, nil))
	if len(errs) != 0 {
		t.Fatalf("per-repository failures must not fail the scope: %v", errs)
	}
	if r := c.ByKey()["acme/open"]; r.Mode != providers.ModeImmutable {
		t.Fatalf("open: %s", r.Mode)
	}
	for name, kind := range map[string]string{"locked": "denied (HTTP 403)", "gone": "not-found (HTTP 404)"} {
		r := c.ByKey()["acme/"+name]
		if r.Mode != providers.ModeUnknown || !strings.Contains(r.Error, kind) || !strings.Contains(r.Error, "access to acme/"+name+" denied") {
			t.Errorf("%s: mode=%s error=%q, want unknown with %q and the API message", name, r.Mode, r.Error, kind)
		}
	}
}

func TestNamespaceDeniedIsScopeError(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "app", true, false)
	addRepo(t, s, "secret", "vault", true, true, ".*")
	s.DenyNamespace("secret", http.StatusForbidden)

	p := newProvider(t, s, func(st *setup) { st.namespaces = []string{"secret", "acme"} })
	c, errs := testutil.Scan(t, p)
	err := errs["secret"]
	if !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "namespace secret") {
		t.Fatalf("secret scope error = %v, want denied naming the namespace", err)
	}
	if errs["acme"] != nil || c.ByKey()["acme/app"].Mode != providers.ModeMutable {
		t.Fatalf("acme must still be listed: err=%v repos=%v", errs["acme"], c.Keys())
	}
	if _, leaked := c.ByKey()["secret/vault"]; leaked {
		t.Fatal("denied namespace emitted a repository")
	}
}

// TestPlanApplyIdempotentVerified is also the policy.mutable_tags_allowed
// contract on Docker Hub: with latest allowed the fix is one rule matching
// every tag but latest, so latest can be re-pushed and a release tag
// cannot; with nothing allowed the rule is .* and both are refused.
func TestPlanApplyIdempotentVerified(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
	}{
		{"latest allowed", []string{"latest"}},
		{"nothing allowed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startEmu(t, hubemu.Options{})
			addRepo(t, s, "acme", "web", false, false)
			addRepo(t, s, "acme", "api", true, true, ".*")
			addRepo(t, s, "acme", "worker", true, true, "release-.*")
			p := newProvider(t, s, func(st *setup) { st.allowed = tc.allowed })
			c, _ := testutil.Scan(t, p)

			pol := providers.FixPolicy{MutableTagsAllowed: tc.allowed}
			plans := map[string]providers.Change{}
			for _, name := range []string{"web", "api", "worker"} {
				ch, err := p.Plan(t.Context(), c.ByKey()["acme/"+name], pol)
				if err != nil {
					t.Fatal(err)
				}
				plans[name] = ch
			}
			if n := s.Calls().Get(hubemu.OpUpdateImmutableTags); n != 0 {
				t.Fatalf("Plan wrote %d times", n)
			}
			if !plans["api"].Noop || plans["web"].Noop || plans["worker"].Noop {
				t.Fatalf("noop: api=%v web=%v worker=%v; want true false false", plans["api"].Noop, plans["web"].Noop, plans["worker"].Noop)
			}
			wantRule, wantMode := ".*", providers.ModeImmutable
			if tc.allowed != nil {
				wantRule, wantMode = dockerhub.ComplementRuleOf(tc.allowed), providers.ModePartial
			}
			if w := plans["web"]; w.Writes != 1 || w.To.Mode != wantMode || !strings.Contains(w.Action, "immutabletags") {
				t.Fatalf("web plan = %+v", w)
			}
			if !strings.Contains(plans["worker"].Action, "release-.*") {
				t.Fatalf("worker plan must say which rules are replaced: %s", plans["worker"].Action)
			}

			// Before the fix an overwrite of web:latest goes through.
			if err := s.Push("acme", "web", "latest", "sha256:new1"); err != nil {
				t.Fatalf("push before fix: %v", err)
			}

			var j testutil.Observer
			for _, name := range []string{"web", "worker", "api"} {
				res, err := p.Apply(t.Context(), plans[name], &j)
				if err != nil {
					t.Fatalf("apply %s: %v", name, err)
				}
				if !res.Verified || (name != "api" && res.After.Mode != wantMode) {
					t.Fatalf("apply %s: verified=%v after=%+v", name, res.Verified, res.After)
				}
			}
			if n := s.Calls().Get(hubemu.OpUpdateImmutableTags); n != 2 || len(j.Records()) != 2 {
				t.Fatalf("PATCH calls %d, journal %d; want 2 and 2 (api was a no-op)", n, len(j.Records()))
			}
			for _, w := range j.Records() {
				if !strings.HasPrefix(w.Call, "PATCH ") || w.After != "enabled=true rules=["+wantRule+"]" || w.Err != "" {
					t.Fatalf("journal record %+v", w)
				}
			}
			if en, rules, _ := s.Settings("acme", "worker"); !en || !slices.Equal(rules, []string{wantRule}) {
				t.Fatalf("worker settings after fix: %v %q", en, rules)
			}
			for _, repo := range []string{"web", "worker"} {
				if err := s.Push("acme", repo, "v1.0.0", "sha256:rel2"); !errors.Is(err, emulator.ErrTagImmutable) {
					t.Fatalf("%s: release re-push after fix: %v, want ErrTagImmutable", repo, err)
				}
				err := s.Push("acme", repo, "latest", "sha256:new2"+repo)
				if refused := errors.Is(err, emulator.ErrTagImmutable); refused != (tc.allowed == nil) {
					t.Fatalf("%s: latest re-push after fix: %v, want refused=%v", repo, err, tc.allowed == nil)
				}
			}

			// Idempotent: re-applying the stale plans writes nothing, and a
			// fresh scan finds the repositories compliant and plans no change.
			before := s.Calls().Get(hubemu.OpUpdateImmutableTags)
			for _, name := range []string{"web", "worker"} {
				res, err := p.Apply(t.Context(), plans[name], &j)
				if err != nil || !res.Verified {
					t.Fatalf("re-apply %s: %v verified=%v", name, err, res.Verified)
				}
			}
			c2, _ := testutil.Scan(t, p)
			for _, name := range []string{"web", "api", "worker"} {
				r := c2.ByKey()["acme/"+name]
				if ev := audit.Evaluate(r, audit.Policy{MutableTagsAllowed: tc.allowed}); ev.Status != audit.StatusCompliant {
					t.Fatalf("%s after the fix: %s (%s)", name, ev.Status, ev.Reason)
				}
				ch, err := p.Plan(t.Context(), r, pol)
				if err != nil || !ch.Noop {
					t.Fatalf("second plan %s: noop=%v err=%v", name, ch.Noop, err)
				}
			}
			if n := s.Calls().Get(hubemu.OpUpdateImmutableTags); n != before {
				t.Fatalf("re-apply wrote %d more times", n-before)
			}
		})
	}
}

// Allowed patterns a rule cannot leave out hold the repository back unless
// the user accepts that they become immutable.
func TestInexpressibleAllowedHeldBack(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "web", false, false)
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), c.ByKey()["acme/web"], providers.FixPolicy{MutableTagsAllowed: []string{"latest", "*-rc"}})
	if err != nil || !strings.Contains(ch.HeldBack, "*-rc") || !strings.Contains(ch.HeldBack, "--accept-immutable-allowed-tags") {
		t.Fatalf("plan %+v %v", ch, err)
	}
	ch, err = p.Plan(t.Context(), c.ByKey()["acme/web"], providers.FixPolicy{MutableTagsAllowed: []string{"latest", "*-rc"}, AcceptImmutableAllowed: true})
	if err != nil || ch.HeldBack != "" || !slices.Equal(ch.To.MutablePatterns, []string{"latest"}) {
		t.Fatalf("accepted plan %+v %v", ch, err)
	}
}

func TestPartialAllowedOnlyWhenPolicyAllowsEverything(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "worker", true, true, "release-.*")
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	r := c.ByKey()["acme/worker"]
	for pol, noop := range map[string]bool{"latest": false, "*": true} {
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{MutableTagsAllowed: []string{pol}})
		if err != nil || ch.Noop != noop {
			t.Errorf("policy %q: noop=%v err=%v, want %v", pol, ch.Noop, err, noop)
		}
	}
}

func TestPlanRereadsUnknownRepository(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "web", false, false)
	s.DenyRepository("acme", "web", http.StatusForbidden)
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	r := c.ByKey()["acme/web"]
	if r.Mode != providers.ModeUnknown {
		t.Fatalf("mode %s", r.Mode)
	}
	if _, err := p.Plan(t.Context(), r, providers.FixPolicy{}); !errors.Is(err, providers.ErrDenied) {
		t.Fatalf("plan of an unreadable repository: %v, want denied", err)
	}
	s.Allow()
	ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
	if err != nil || ch.Noop || ch.From.Mode != providers.ModeMutable {
		t.Fatalf("plan after access restored: %+v %v", ch, err)
	}
}

func TestVerifyFailsWhenWriteDoesNotStick(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "web", false, false)
	// A proxy that acknowledges the PATCH without forwarding it: the
	// read-back must catch it.
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPatch {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: http.NoBody, Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := newProvider(t, s, func(st *setup) { st.hc = hc })
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), c.ByKey()["acme/web"], providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(t.Context(), ch, &testutil.Observer{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.After.Mode != providers.ModeMutable {
		t.Fatalf("verified=%v after=%s; want unverified, still mutable", res.Verified, res.After.Mode)
	}
}

func TestApplyDeniedReportsWrite(t *testing.T) {
	hs := hubemu.New(hubemu.Options{})
	hs.AddAccount(hubemu.Account{Identifier: testUser, Secret: testSecret, Admin: false})
	s := &hubEmu{Server: hs, web: httptest.NewServer(hs.Handler())}
	t.Cleanup(s.web.Close)
	addRepo(t, s, "acme", "web", false, false)
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	if !strings.Contains(c.ByKey()["acme/web"].Note, "no admin permission") {
		t.Errorf("note = %q", c.ByKey()["acme/web"].Note)
	}
	ch, _ := p.Plan(t.Context(), c.ByKey()["acme/web"], providers.FixPolicy{})
	var j testutil.Observer
	res, err := p.Apply(t.Context(), ch, &j)
	if !errors.Is(err, providers.ErrDenied) || res.Verified {
		t.Fatalf("apply without admin: err=%v verified=%v", err, res.Verified)
	}
	if len(j.Records()) != 1 || !strings.Contains(j.Records()[0].Err, "only repository admins") {
		t.Fatalf("journal %+v", j.Records())
	}
}

func Test429StormRiddenOut(t *testing.T) {
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{ThrottleRate: 0.2, Seed: 7, PageSize: 5}})
	for i := range 12 {
		addRepo(t, s, "acme", fmt.Sprintf("r%02d", i), i%2 == 0, i%3 == 0, ".*")
	}
	c, errs := testutil.Scan(t, newProvider(t, s, nil))
	if len(errs) != 0 {
		t.Fatalf("scope errors under throttling: %v", errs)
	}
	if len(c.Keys()) != 12 {
		t.Fatalf("emitted %d, want 12", len(c.Keys()))
	}
	for k, r := range c.ByKey() {
		if r.Mode == providers.ModeUnknown {
			t.Errorf("%s unknown under throttling: %s", k, r.Error)
		}
	}
	if s.Calls().Get(hubemu.OpThrottled) == 0 {
		t.Fatal("no call was throttled: the test proves nothing")
	}
}

func TestTokenRenewedBeforeExpiryDuringLongScan(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	s := startEmu(t, hubemu.Options{Now: clk.Now}) // Hub's 10-minute tokens
	for i := range 30 {
		addRepo(t, s, "acme", fmt.Sprintf("r%02d", i), true, true, ".*")
	}
	// Every API call takes "a minute": the scan spans half an hour.
	var unauthorized atomic.Int64
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		clk.Advance(time.Minute)
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusUnauthorized {
			unauthorized.Add(1)
		}
		return resp, err
	})}
	// One request at a time: with several in flight the fake clock would
	// jump minutes between a token check and the server's.
	p := newProvider(t, s, func(st *setup) {
		st.now = clk.Now
		st.hc = hc
		st.rate = config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 1}
	})
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 || len(c.Keys()) != 30 {
		t.Fatalf("errs=%v repos=%d", errs, len(c.Keys()))
	}
	for k, r := range c.ByKey() {
		if r.Mode != providers.ModeImmutable {
			t.Fatalf("%s: %s %s", k, r.Mode, r.Error)
		}
	}
	tokens := s.Calls().Get(hubemu.OpAuthToken)
	if tokens < 3 || unauthorized.Load() != 0 {
		t.Fatalf("tokens minted %d, 401s %d; want >= 3 renewals ahead of expiry and no 401", tokens, unauthorized.Load())
	}
}

func TestTokenRefreshedAfter401(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	for i := range 6 {
		addRepo(t, s, "acme", fmt.Sprintf("r%d", i), false, false)
	}
	var calls atomic.Int64
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		// Rotate credentials server-side in the middle of the scan.
		if calls.Add(1) == 4 {
			s.RevokeTokens()
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := newProvider(t, s, func(st *setup) { st.hc = hc })
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 || len(c.Keys()) != 6 {
		t.Fatalf("errs=%v repos=%v", errs, c.Keys())
	}
	for k, r := range c.ByKey() {
		if r.Mode != providers.ModeMutable {
			t.Fatalf("%s: %s %s", k, r.Mode, r.Error)
		}
	}
	if n := s.Calls().Get(hubemu.OpAuthToken); n < 2 {
		t.Fatalf("tokens minted %d, want a refresh after the 401", n)
	}
}

func TestPrivateVisibilityWarning(t *testing.T) {
	hs := hubemu.New(hubemu.Options{})
	hs.AddAccount(hubemu.Account{Identifier: "acme", Secret: "oat-without-list-scope", PublicOnly: true})
	s := &hubEmu{Server: hs, web: httptest.NewServer(hs.Handler())}
	t.Cleanup(s.web.Close)
	addRepo(t, s, "acme", "public-app", false, false)
	addRepo(t, s, "acme", "private-app", true, false)
	p := newProvider(t, s, func(st *setup) { st.env = env{userEnv: "acme", tokenEnv: "oat-without-list-scope"} })
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if _, seen := c.ByKey()["acme/private-app"]; seen || len(c.ByKey()) != 1 {
		t.Fatalf("repos %v: the emulator should hide the private one", c.Keys())
	}
	if ws := c.Warnings(); len(ws) != 1 || ws[0].Code != dockerhub.WarnPrivateVisibility || ws[0].Scope != "acme" ||
		!strings.Contains(ws[0].Message, "scope-repository-list") {
		t.Fatalf("warnings = %+v", ws)
	}
}

func TestCredentialsProblems(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "app", false, false)

	// The kind's Spec requires both variable names; New relies on it.
	c := &config.Config{Version: config.CurrentVersion, Providers: []config.Provider{{Name: "x", Kind: "dockerhub",
		Settings: &dockerhub.Settings{Namespaces: []string{"acme"}}}}}
	if err := c.Validate(config.Kinds{dockerhub.Spec}); err == nil || !strings.Contains(err.Error(), "credentials.token_env: missing") {
		t.Fatalf("config without credential variable names: %v", err)
	}

	p := newProvider(t, s, func(st *setup) { st.env = env{userEnv: testUser} })
	_, errs := testutil.Scan(t, p)
	if err := errs["acme"]; err == nil || !strings.Contains(err.Error(), tokenEnv) {
		t.Fatalf("empty token env: %v", err)
	}

	var logs bytes.Buffer
	p = newProvider(t, s, func(st *setup) { st.env = env{userEnv: testUser, tokenEnv: "wrong-secret-value"}; st.log = &logs })
	_, errs = testutil.Scan(t, p)
	err := errs["acme"]
	if !errors.Is(err, providers.ErrDenied) {
		t.Fatalf("wrong secret: %v, want denied", err)
	}
	for _, secret := range []string{"wrong-secret-value", testSecret} {
		if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
			t.Fatalf("secret leaked into error or logs:\n%v\n%s", err, logs.String())
		}
	}
	if s.Calls().Get(hubemu.OpListRepositories) != 0 {
		t.Fatal("listing went ahead without a token")
	}
}

func TestDebugLogsCarryNoToken(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "app", true, false)
	var logs bytes.Buffer
	var mu sync.Mutex
	var tokens []string
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		if a := r.Header.Get("Authorization"); a != "" {
			mu.Lock()
			tokens = append(tokens, strings.TrimPrefix(a, "Bearer "))
			mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := newProvider(t, s, func(st *setup) { st.log = &logs; st.hc = hc })
	if _, errs := testutil.Scan(t, p); len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(tokens) == 0 || !strings.Contains(logs.String(), "/v2/namespaces/acme/repositories") {
		t.Fatalf("no authorised request logged:\n%s", logs.String())
	}
	for _, secret := range append(tokens, testSecret) {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log leaks a credential")
		}
	}
}

func TestDemo(t *testing.T) {
	d, err := hubemu.StartDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	cfg := d.Provider()
	if cfg.Name != "hub-demo" || cfg.Kind != providers.KindDockerHub {
		t.Fatalf("demo config %+v", cfg)
	}
	envs := d.Env()
	pr, err := dockerhub.New(t.Context(), cfg, providers.Options{Getenv: func(k string) string { return envs[k] }})
	if err != nil {
		t.Fatal(err)
	}
	p := pr.(*dockerhub.Provider)
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	modes := map[providers.Mode]int{}
	for _, r := range c.ByKey() {
		modes[r.Mode]++
	}
	if modes[providers.ModeMutable] < 2 || modes[providers.ModeImmutable] < 2 || modes[providers.ModePartial] < 1 || modes[providers.ModeUnknown] != 0 {
		t.Fatalf("demo modes %v", modes)
	}
	scope, repo, tag := d.OverwriteTarget()
	if r := c.ByKey()[scope+"/"+repo]; r.Mode != providers.ModeMutable {
		t.Fatalf("overwrite target %s/%s is %s, want mutable", scope, repo, r.Mode)
	}
	if err := d.PushTag(t.Context(), scope, repo, tag); err != nil {
		t.Fatalf("push before fix: %v", err)
	}
	for _, r := range c.ByKey() {
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil || !res.Verified {
			t.Fatalf("apply %s: %v verified=%v", r.Name, err, res.Verified)
		}
	}
	if err := d.PushTag(t.Context(), scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("push after fix: %v, want ErrTagImmutable", err)
	}
}

// Rules in force that protect an allowed tag: the fix's complement rule
// would unlock it, so it stays immutable (a fix never unlocks a tag). An
// allowed tag no rule protects stays allowed.
func TestPlanNeverUnlocksARuleProtectedTag(t *testing.T) {
	s := startEmu(t, hubemu.Options{})
	addRepo(t, s, "acme", "web", false, true, "^latest$", "^v[0-9].*")
	p := newProvider(t, s, nil)
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), c.ByKey()["acme/web"], providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev-*", "v1*"}})
	if err != nil || ch.Noop || ch.HeldBack != "" {
		t.Fatalf("plan %+v %v", ch, err)
	}
	if !slices.Equal(ch.To.MutablePatterns, []string{"dev-*"}) || !strings.Contains(ch.Action, "latest, v1* stay immutable") {
		t.Fatalf("plan leaves %v mutable (%s); latest and v1* are protected by a rule in force", ch.To.MutablePatterns, ch.Action)
	}
	re := regexp.MustCompile(ch.To.ImmutablePatterns[0])
	for _, tag := range []string{"latest", "v1.0.0", "v1-rc"} {
		if !re.MatchString(tag) {
			t.Errorf("the planned rule %q leaves %s mutable", re, tag)
		}
	}
	if re.MatchString("dev-1") {
		t.Errorf("the planned rule %q makes dev-1 immutable; the policy allows it and no rule protected it", re)
	}
}
