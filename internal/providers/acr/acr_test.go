package acr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	emu "github.com/immutag/immutag/internal/emulator/acr"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

func TestNewValidatesWithoutCallingAPIs(t *testing.T) {
	bad := []config.Provider{
		{Name: "x"},
		{Name: "x", Settings: &Settings{Registries: []string{"a.azurecr.io"}}, Credentials: config.Credentials{UsernameEnv: "U"}},
		{Name: "x", Settings: &Settings{Registries: []string{"a.azurecr.io"}}, Credentials: config.Credentials{TokenEnv: "T"}},
		{Name: "x", Settings: &Settings{Registries: []string{"a.azurecr.io", "b.azurecr.io"}}, Endpoint: "https://proxy"},
		{Name: "x", Settings: &Settings{Registries: []string{"a.azurecr.io"}}, Endpoint: "http://10.0.0.1:5000"},
		{Name: "x", Settings: &Settings{Registries: []string{"https://a.azurecr.io/path"}}},
		{Name: "x", Settings: &Settings{Registries: []string{"a.azurecr.io"}}, Rate: config.Rate{RequestsPerSecond: -1}},
	}
	for i, c := range bad {
		if _, err := New(t.Context(), c, providers.Options{}); err == nil {
			t.Errorf("case %d: no error for %+v", i, c)
		}
	}
	// Unreachable registry and unset env vars: construction is lazy.
	p, err := New(t.Context(), config.Provider{Name: "x", Kind: "acr", Settings: &Settings{Registries: []string{"https://Nowhere.invalid/"}},
		Credentials: config.Credentials{UsernameEnv: "UNSET_U", PasswordEnv: "UNSET_P"}}, providers.Options{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Scopes(t.Context()); err == nil || !strings.Contains(err.Error(), "UNSET_U") {
		t.Fatalf("missing credentials should fail at first use and name the variable: %v", err)
	}
}

func TestAuditModesAndPaging(t *testing.T) {
	s := newEmu(t, emu.Options{})
	seed(s, "team/all-locked", 7, 1)
	seed(s, "team/partial", 23, 2) // 12 locked, 11 unlocked
	seed(s, "team/none", 25, 0)
	s.AddRepository("team/empty")
	for i := range 5 {
		s.AddTag(fmt.Sprintf("filler/r%d", i), "latest", true)
	}
	p := newProvider(t, setup{cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}}, hc: emuClient(s),
		mods: []func(*Provider){func(p *Provider) { p.pageSize = 4 }}})

	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if len(c.Repos()) != 9 {
		t.Fatalf("repositories = %d, want 9", len(c.Repos()))
	}
	got := c.ByName()
	check := func(name string, mode providers.Mode, total, locked int64) providers.Repository {
		t.Helper()
		r := got[name]
		if r.Mode != mode || r.TagsTotal != total || r.TagsLocked != locked {
			t.Errorf("%s: %s %d/%d, want %s %d/%d (%s)", name, r.Mode, r.TagsLocked, r.TagsTotal, mode, locked, total, r.Error)
		}
		if r.Note == "" || !strings.Contains(r.Note, "pushed later start unlocked") {
			t.Errorf("%s: note %q", name, r.Note)
		}
		if r.Scope != s.LoginServer() || r.URI != s.LoginServer()+"/"+name || r.Kind != "acr" || r.Provider != "acr-test" {
			t.Errorf("%s: identity %+v", name, r)
		}
		return r
	}
	check("team/all-locked", providers.ModeImmutable, 7, 7)
	part := check("team/partial", providers.ModePartial, 23, 12)
	none := check("team/none", providers.ModeMutable, 25, 0)
	check("team/empty", providers.ModeImmutable, 0, 0)
	if part.Native != "tags locked 12/23" || len(part.MutablePatterns) != 1 || part.MutablePatterns[0] != "*" {
		t.Errorf("partial native/patterns: %q %v", part.Native, part.MutablePatterns)
	}
	if len(part.UnlockedSample) != 10 || part.UnlockedSample[0] != "v00001" {
		t.Errorf("partial sample = %v", part.UnlockedSample)
	}
	if len(none.UnlockedSample) != sampleSize {
		t.Errorf("sample not bounded: %d", len(none.UnlockedSample))
	}
	// Paging really happened: 9 repositories at 4 per page, 25 tags at 4.
	if n := s.Calls().Get("GET catalog"); n != 3 {
		t.Errorf("catalog pages = %d, want 3", n)
	}
	// 2 pages for 7 tags, 6 for 23, 7 for 25, 1 for empty, 5 fillers.
	if n := s.Calls().Get("GET tags"); n != 2+6+7+1+5 {
		t.Errorf("tag pages = %d", n)
	}
	// Audit writes nothing and asks for no tag one by one.
	if s.Calls().Get("PATCH tag")+s.Calls().Get("PATCH repository")+s.Calls().Get("GET tag") != 0 {
		t.Errorf("audit made extra calls: %v", s.Calls().Snapshot())
	}
}

func TestSeveralRegistriesAndUnreadableScopes(t *testing.T) {
	ok := newEmu(t, emu.Options{})
	seed(ok, "app", 3, 1)
	seed(ok, "lib", 3, 0)

	wrongCreds, err := emu.ServeLoopback(emu.New(emu.Options{})) // knows no user "ci"
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wrongCreds.Close)
	seed(wrongCreds, "app", 1, 0)

	noCatalog := newEmu(t, emu.Options{})
	seed(noCatalog, "app", 1, 0)
	noCatalog.Deny("registry:catalog")

	oneRepoDenied := newEmu(t, emu.Options{})
	seed(oneRepoDenied, "open", 2, 1)
	seed(oneRepoDenied, "private", 2, 0)
	oneRepoDenied.Deny("private")

	p := newProvider(t, setup{hc: emuClient(ok), cfg: config.Provider{Settings: &Settings{Registries: []string{
		ok.LoginServer(), wrongCreds.LoginServer(), noCatalog.LoginServer(), oneRepoDenied.LoginServer()}}}})
	start := time.Now()
	c, errs := testutil.Scan(t, p)
	// Generous for a loaded CI machine; a retried auth failure (backoff
	// per attempt, four registries) would take minutes.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("auth failures should fail fast, audit took %v", d)
	}
	if len(errs) != 2 {
		t.Fatalf("scope errors = %v, want 2", errs)
	}
	for _, h := range []string{wrongCreds.LoginServer(), noCatalog.LoginServer()} {
		var ae *providers.APIError
		if !errors.As(errs[h], &ae) || ae.Class != providers.ErrDenied {
			t.Errorf("%s: error %v is not a denied APIError", h, errs[h])
		}
		if !strings.Contains(errs[h].Error(), h) {
			t.Errorf("%s: error does not name the registry: %v", h, errs[h])
		}
	}
	if !strings.Contains(errs[wrongCreds.LoginServer()].Error(), "HTTP 401") || strings.Contains(errs[wrongCreds.LoginServer()].Error(), "pw") {
		t.Errorf("wrong credentials error: %v", errs[wrongCreds.LoginServer()])
	}
	if n := wrongCreds.Calls().Get("GET oauth2/token 401"); n != 1 {
		t.Errorf("rejected logins = %d, want 1 (no retry on 401)", n)
	}
	if !strings.Contains(errs[noCatalog.LoginServer()].Error(), "HTTP 403") {
		t.Errorf("denied catalog error: %v", errs[noCatalog.LoginServer()])
	}

	byScope := map[string]int{}
	for _, r := range c.Repos() {
		byScope[r.Scope]++
		if r.Scope == oneRepoDenied.LoginServer() && r.Name == "private" {
			if r.Mode != providers.ModeUnknown || !strings.Contains(r.Error, "DENIED") {
				t.Errorf("denied repository: %s %q", r.Mode, r.Error)
			}
		} else if r.Mode == providers.ModeUnknown {
			t.Errorf("%s/%s unexpectedly unknown: %s", r.Scope, r.Name, r.Error)
		}
	}
	if byScope[ok.LoginServer()] != 2 || byScope[oneRepoDenied.LoginServer()] != 2 {
		t.Errorf("repositories per registry = %v", byScope)
	}
}

// fakeLister serves ARM registry pages.
type fakeLister struct {
	pages [][]*armcontainerregistry.Registry
	err   error
}

func (f fakeLister) NewListPager(*armcontainerregistry.RegistriesClientListOptions) *runtime.Pager[armcontainerregistry.RegistriesClientListResponse] {
	i := 0
	return runtime.NewPager(runtime.PagingHandler[armcontainerregistry.RegistriesClientListResponse]{
		More: func(armcontainerregistry.RegistriesClientListResponse) bool { return i < len(f.pages) },
		Fetcher: func(context.Context, *armcontainerregistry.RegistriesClientListResponse) (armcontainerregistry.RegistriesClientListResponse, error) {
			if f.err != nil {
				return armcontainerregistry.RegistriesClientListResponse{}, f.err
			}
			i++
			return armcontainerregistry.RegistriesClientListResponse{RegistryListResult: armcontainerregistry.RegistryListResult{Value: f.pages[i-1]}}, nil
		},
	})
}

func armRegistry(login string, sku armcontainerregistry.SKUName) *armcontainerregistry.Registry {
	return &armcontainerregistry.Registry{SKU: &armcontainerregistry.SKU{Name: to.Ptr(sku)},
		Properties: &armcontainerregistry.RegistryProperties{LoginServer: to.Ptr(login)}}
}

func TestSubscriptionDiscoveryAndSKURate(t *testing.T) {
	a := newEmu(t, emu.Options{SKU: "Premium"})
	b := newEmu(t, emu.Options{SKU: "Standard"})
	seed(a, "app", 4, 2)
	seed(b, "web", 2, 0)
	var listed []string
	p := newProvider(t, setup{hc: emuClient(a), cfg: config.Provider{
		Settings: &Settings{Registries: []string{a.LoginServer()}, Subscriptions: []string{"sub-1", "sub-denied"}},
	}, mods: []func(*Provider){func(p *Provider) {
		p.newCredential = func() (azcore.TokenCredential, error) { return staticCred("arm"), nil }
		p.newLister = func(sub string, cred azcore.TokenCredential) (registryLister, error) {
			listed = append(listed, sub)
			if cred == nil {
				t.Error("ARM lister got no credential")
			}
			if sub == "sub-denied" {
				return fakeLister{err: &providers.APIError{Class: providers.ErrDenied, Status: 403, Message: "AuthorizationFailed"}}, nil
			}
			return fakeLister{pages: [][]*armcontainerregistry.Registry{
				{armRegistry(a.LoginServer(), armcontainerregistry.SKUNamePremium)},
				{armRegistry(b.LoginServer(), armcontainerregistry.SKUNameStandard)},
			}}, nil
		}
	}}})
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scopes {
		names = append(names, s.Name)
	}
	want := []string{a.LoginServer(), b.LoginServer(), "subscriptions/sub-denied"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("scopes = %v, want %v (configured and discovered deduplicated)", names, want)
	}
	if err := p.Repositories(t.Context(), scopes[2], &testutil.Emitter{}); err == nil || !strings.Contains(err.Error(), "sub-denied") {
		t.Fatalf("failed subscription scope: %v", err)
	}
	ra, rb := scopes[0].Handle.(*registry), scopes[1].Handle.(*registry)
	pa, _ := ra.rate()
	pb, _ := rb.rate()
	if ra.sku != "Premium" || pa != 2000.0/60 || pb != 500.0/60 || ra.limiter.Rate() != pa {
		t.Fatalf("SKU rates: %s %v, %s %v", ra.sku, pa, rb.sku, pb)
	}
	c := &testutil.Emitter{}
	if err := p.Repositories(t.Context(), scopes[0], c); err != nil {
		t.Fatal(err)
	}
	ch, err := p.Plan(t.Context(), c.Repos()[0], providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Writes != 2 || !strings.Contains(ch.Action, "lock 2 tags (writeEnabled=false, deleteEnabled=false)") ||
		!strings.Contains(ch.Action, "2000 writes/min (Premium SKU write limit)") {
		t.Fatalf("plan = %d %q", ch.Writes, ch.Action)
	}
}

func TestWriteRateDefaults(t *testing.T) {
	for _, c := range []struct {
		rate config.Rate
		sku  string
		want float64
	}{
		{config.Rate{}, "", 100.0 / 60},
		{config.Rate{}, "Basic", 100.0 / 60},
		{config.Rate{}, "Standard", 500.0 / 60},
		{config.Rate{}, "Premium", 2000.0 / 60},
		{config.Rate{RequestsPerSecond: 3}, "Premium", 3},
		{config.Rate{RequestsPerSecond: 3}, "", 3},
	} {
		if got, src := writeRate(c.rate, c.sku); got != c.want || src == "" {
			t.Errorf("writeRate(%v, %q) = %v %q, want %v", c.rate, c.sku, got, src, c.want)
		}
	}
	if got := estimate(250, 100.0/60); got != "about 2m30s" {
		t.Errorf("estimate = %s", got)
	}
	if got := estimate(1, 100); got != "under 1s" {
		t.Errorf("estimate = %s, want no \"about under 1s\"", got)
	}
}

func TestPlanApplyVerifyIdempotent(t *testing.T) {
	s := newEmu(t, emu.Options{SKU: "Premium"})
	unlocked := seed(s, "team/app", 30, 3) // 10 locked, 20 unlocked
	s.AddTag("team/app", "no-delete-flag", false)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 1000}}})
	c, _ := testutil.Scan(t, p)
	repo := c.ByName()["team/app"]

	ch, err := p.Plan(t.Context(), repo, providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Noop || ch.Writes != 21 || ch.From.Mode != providers.ModePartial || ch.To.Mode != providers.ModeImmutable || ch.To.TagsLocked != 31 {
		t.Fatalf("plan = %+v", ch)
	}
	if !strings.Contains(ch.Action, "lock 21 tags (writeEnabled=false, deleteEnabled=false)") || !strings.Contains(ch.Action, "under 1s") {
		t.Fatalf("action = %q", ch.Action)
	}
	if s.Calls().Get("PATCH tag") != 0 {
		t.Fatal("plan wrote")
	}

	j := &testutil.Observer{}
	res, err := p.Apply(t.Context(), ch, j)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Writes != 21 || res.After.Mode != providers.ModeImmutable || res.After.TagsLocked != 31 {
		t.Fatalf("result = %+v", res)
	}
	if got := s.Calls().Get("PATCH tag"); got != 21 {
		t.Fatalf("PATCHes = %d, want 21", got)
	}
	if s.Calls().Get("PATCH locked tag")+s.Calls().Get("PATCH repository") != 0 {
		t.Fatalf("touched a locked tag or the repository lock: %v", s.Calls().Snapshot())
	}
	ok := successes(j, "")
	for _, tag := range append(unlocked, "no-delete-flag") {
		tg, _ := s.Tag("team/app", tag)
		if !tg.Locked() || tg.DeleteEnabled {
			t.Errorf("%s not locked: %+v", tag, tg)
		}
		if ok[tag] != 1 {
			t.Errorf("%s journaled %d times", tag, ok[tag])
		}
	}
	if recs := j.Records(); len(recs) != 21 || recs[0].Call != "UpdateTagProperties" || recs[0].After != "writeEnabled=false,deleteEnabled=false" {
		t.Fatalf("journal = %+v", recs)
	}
	steps := j.Steps()
	if last := steps[len(steps)-1]; last.Done != 21 || last.Total != 21 {
		t.Fatalf("progress ended at %d/%d", last.Done, last.Total)
	}
	if !s.RepositoryWritable("team/app") {
		t.Fatal("repository-level lock used")
	}
	// New pushes still work (the repository is not locked), locked tags refuse.
	if err := s.PushTag("team/app", "v2-new"); err != nil {
		t.Fatal(err)
	}
	if err := s.PushTag("team/app", unlocked[0]); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v", err)
	}

	// Re-plan sees only the new tag; after locking it, a further plan is a no-op
	// and a further apply makes no write.
	ch2, err := p.Plan(t.Context(), repo, providers.FixPolicy{})
	if err != nil || ch2.Writes != 1 {
		t.Fatalf("plan after a new push: %d %v", ch2.Writes, err)
	}
	if _, err := p.Apply(t.Context(), ch2, &testutil.Observer{}); err != nil {
		t.Fatal(err)
	}
	ch3, err := p.Plan(t.Context(), repo, providers.FixPolicy{})
	if err != nil || !ch3.Noop || ch3.Writes != 0 {
		t.Fatalf("third plan not a no-op: %+v %v", ch3, err)
	}
	before := s.Calls().Get("PATCH tag")
	j3 := &testutil.Observer{}
	res3, err := p.Apply(t.Context(), ch3, j3)
	if err != nil || !res3.Verified || res3.Writes != 0 || len(j3.Records()) != 0 || s.Calls().Get("PATCH tag") != before {
		t.Fatalf("idempotent re-apply: %+v %v, journal %d", res3, err, len(j3.Records()))
	}
}

func TestVerifyDetectsUnlockedTag(t *testing.T) {
	s := newEmu(t, emu.Options{})
	seed(s, "app", 5, 0)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}, Rate: config.Rate{RequestsPerSecond: 1000}}})
	c, _ := testutil.Scan(t, p)
	ch, err := p.Plan(t.Context(), c.Repos()[0], providers.FixPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	// Something unlocks a tag behind the loop's back: the read-back must notice.
	j := &testutil.Observer{OnWrite: func(n int) {
		if n == 5 {
			s.AddTag("app", "v00000", false)
		}
	}}
	res, err := p.Apply(t.Context(), ch, j)
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.After.Mode != providers.ModePartial || res.After.TagsLocked != 4 {
		t.Fatalf("verify missed an unlocked tag: %+v", res)
	}
}

// TestLockLoopLarge is the acceptance loop: >= 5,000 tags across
// repositories, some locked, injected 429s.
func TestLockLoopLarge(t *testing.T) {
	s := newEmu(t, emu.Options{WritesPerMinute: -1})
	repos := []string{"loop/a", "loop/b", "loop/c", "loop/d"}
	unlocked := map[string][]string{}
	total := 0
	for _, r := range repos {
		// Two tags in three are already locked: the loop must skip them.
		for i := range 1300 {
			tag := fmt.Sprintf("v%05d", i)
			s.AddTag(r, tag, i%3 != 0)
			if i%3 == 0 {
				unlocked[r] = append(unlocked[r], tag)
			}
		}
		total += len(unlocked[r])
	}
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 3000, MaxConcurrent: 8}}})
	// Plan re-lists anyway, so the repositories need no audit pass here
	// (listing 5,200 tags is the slow part under -race).
	var targets []providers.Repository
	for _, r := range repos {
		targets = append(targets, providers.Repository{Scope: s.LoginServer(), Name: r})
	}
	s.SetFaults(emulator.Faults{ThrottleRate: 0.03, RetryAfter: 2 * time.Millisecond, Seed: 7})

	j := &testutil.Observer{}
	var planned int64
	for _, r := range targets {
		ch, res, err := fix(t, t.Context(), p, r, j)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		planned += ch.Writes
		if !res.Verified {
			t.Fatalf("%s not verified: %+v", r.Name, res.After)
		}
	}
	if planned != int64(total) || total < 1700 {
		t.Fatalf("planned %d, unlocked %d", planned, total)
	}
	if got := s.Calls().Get("PATCH tag"); got != int64(total) {
		t.Fatalf("successful PATCHes = %d, want exactly %d (one per unlocked tag)", got, total)
	}
	if s.Calls().Get("PATCH locked tag") != 0 {
		t.Fatal("a locked tag was PATCHed")
	}
	if s.Calls().Get("PATCH tag 429") == 0 {
		t.Fatal("no 429 was injected; the test proves nothing about retries")
	}
	for _, r := range repos {
		ok := successes(j, r)
		if len(ok) != len(unlocked[r]) {
			t.Errorf("%s: journaled %d tags, want %d", r, len(ok), len(unlocked[r]))
		}
		for _, tag := range unlocked[r] {
			if ok[tag] != 1 {
				t.Errorf("%s:%s journaled %d times", r, tag, ok[tag])
			}
		}
		tot, locked := s.Counts(r)
		if tot != locked {
			t.Errorf("%s: %d/%d locked", r, locked, tot)
		}
	}

	// Second run: every plan is a no-op (the engine applies none of them);
	// applying one anyway re-lists and writes nothing.
	s.SetFaults(emulator.Faults{})
	before := s.Calls().Get("PATCH tag")
	for i, r := range targets {
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
		if err != nil || !ch.Noop || ch.Writes != 0 {
			t.Fatalf("second plan %s: %+v %v", r.Name, ch, err)
		}
		if i == 0 {
			if res, err := p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil || res.Writes != 0 || !res.Verified {
				t.Fatalf("second apply %s: %+v %v", r.Name, res, err)
			}
		}
	}
	if got := s.Calls().Get("PATCH tag") - before; got != 0 {
		t.Fatalf("second run made %d writes", got)
	}
}

// TestLockLoopRespectsRate measures the achieved write rate at the
// emulator: the first to the last served PATCH.
func TestLockLoopRespectsRate(t *testing.T) {
	const n, perSecond = 121, 100.0
	s := newEmu(t, emu.Options{WritesPerMinute: -1})
	seed(s, "app", n, 0)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: perSecond, MaxConcurrent: 8}}})
	c, _ := testutil.Scan(t, p)
	if _, res, err := fix(t, t.Context(), p, c.Repos()[0], &testutil.Observer{}); err != nil || !res.Verified {
		t.Fatalf("%+v %v", res, err)
	}
	first, last := s.WriteWindow()
	got := float64(n-1) / last.Sub(first).Seconds()
	t.Logf("achieved %.1f writes/s over %v (limit %v)", got, last.Sub(first), perSecond)
	if got > perSecond*1.1 {
		t.Fatalf("achieved %.1f writes/s, above the %v/s limit + 10%%", got, perSecond)
	}
	if got < perSecond*0.5 {
		t.Fatalf("achieved only %.1f writes/s: the limiter is far stricter than configured", got)
	}
}

// TestLockLoopConcurrencyBound checks rate.max_concurrent with a transport
// that counts PATCHes in flight.
func TestLockLoopConcurrencyBound(t *testing.T) {
	s := newEmu(t, emu.Options{WritesPerMinute: -1})
	seed(s, "app", 30, 0)
	var inFlight, peak atomic.Int64
	base := s.Client().Transport
	hc := &http.Client{Transport: testutil.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPatch {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
		}
		return base.RoundTrip(r)
	})}
	p := newProvider(t, setup{hc: hc, cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 5000, MaxConcurrent: 3}}})
	c, _ := testutil.Scan(t, p)
	s.SetFaults(emulator.Faults{Latency: 15 * time.Millisecond})
	if _, _, err := fix(t, t.Context(), p, c.Repos()[0], &testutil.Observer{}); err != nil {
		t.Fatal(err)
	}
	if pk := peak.Load(); pk > 3 || pk < 2 {
		t.Fatalf("peak PATCHes in flight = %d, want 2..3", pk)
	}
}

// TestSKUThrottleHonoursRetryAfter runs faster than the emulator's SKU
// write limit: the 429s carry Retry-After and every tag still gets locked.
func TestSKUThrottleHonoursRetryAfter(t *testing.T) {
	s := newEmu(t, emu.Options{WritesPerMinute: 60}) // 1/s, bucket of 10
	seed(s, "app", 12, 0)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 2}}})
	c, _ := testutil.Scan(t, p)
	_, res, err := fix(t, t.Context(), p, c.Repos()[0], &testutil.Observer{})
	if err != nil || !res.Verified || res.Writes != 12 {
		t.Fatalf("%+v %v", res, err)
	}
	if s.Calls().Get("PATCH tag 429") == 0 || s.Calls().Get("PATCH tag") != 12 {
		t.Fatalf("counts = %v", s.Calls().Snapshot())
	}
}

// TestInterruptedLoopResumes cancels the loop mid-way: the journal must
// match the registry, and the next run must finish the job.
func TestInterruptedLoopResumes(t *testing.T) {
	s := newEmu(t, emu.Options{WritesPerMinute: -1})
	unlocked := seed(s, "app", 1200, 4) // 900 unlocked
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 2000, MaxConcurrent: 8}}})
	c, _ := testutil.Scan(t, p)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	j1 := &testutil.Observer{OnWrite: func(n int) {
		if n == 250 {
			cancel()
		}
	}}
	_, res, err := fix(t, ctx, p, c.Repos()[0], j1)
	if !errors.Is(err, context.Canceled) || res.Verified {
		t.Fatalf("interrupted run: %+v %v", res, err)
	}
	// Requests the client gave up on may still be applied by the server:
	// compare once it is idle. Such tags are journaled as "outcome unknown".
	s.WaitIdle()
	ok, journaled := successes(j1, ""), journaledTags(j1)
	if len(ok) < 250 || len(ok) >= len(unlocked) {
		t.Fatalf("successes = %d", len(ok))
	}
	lockedNow := 0
	for _, tag := range unlocked {
		tg, _ := s.Tag("app", tag)
		if ok[tag] > 0 && !tg.Locked() {
			t.Errorf("%s journaled as locked but unlocked at the registry", tag)
		}
		if tg.Locked() {
			lockedNow++
			if !journaled[tag] {
				t.Errorf("%s locked at the registry but missing from the journal", tag)
			}
		}
	}
	if lockedNow >= len(unlocked) {
		t.Fatal("the interruption came too late to test anything")
	}

	j2 := &testutil.Observer{}
	ch, res, err := fix(t, t.Context(), p, c.Repos()[0], j2)
	if err != nil || !res.Verified {
		t.Fatalf("resumed run: %+v %v", res, err)
	}
	// A cancelled request still in the server's socket buffer can land
	// after WaitIdle, so the resume may find a few fewer tags to lock.
	if left := int64(len(unlocked) - lockedNow); ch.Writes > left || ch.Writes < left-8 || ch.Writes == 0 {
		t.Fatalf("resume planned %d, want about %d", ch.Writes, left)
	}
	ok2 := successes(j2, "")
	for _, tag := range unlocked {
		if ok[tag]+ok2[tag] > 1 {
			t.Errorf("%s locked twice", tag)
		}
	}
	if got := s.Calls().Get("PATCH tag"); got != int64(len(unlocked)) {
		t.Fatalf("PATCHes over both runs = %d, want %d", got, len(unlocked))
	}
	if s.Calls().Get("PATCH locked tag") != 0 {
		t.Fatal("a locked tag was PATCHed")
	}
}

func TestEntraIDCredential(t *testing.T) {
	s := newEmu(t, emu.Options{})
	s.AcceptAADToken("entra-token")
	seed(s, "team/a", 6, 2)
	seed(s, "team/b", 4, 0)
	p := newProvider(t, setup{hc: emuClient(s), env: map[string]string{}, cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
		Rate: config.Rate{RequestsPerSecond: 1000}},
		mods: []func(*Provider){func(p *Provider) {
			p.newCredential = func() (azcore.TokenCredential, error) { return staticCred("entra-token"), nil }
		}}})
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 || len(c.Repos()) != 2 {
		t.Fatalf("audit: %v %d", errs, len(c.Repos()))
	}
	for _, r := range c.Repos() {
		if _, res, err := fix(t, t.Context(), p, r, &testutil.Observer{}); err != nil || !res.Verified {
			t.Fatalf("%s: %+v %v", r.Name, res, err)
		}
	}
	if got := s.Calls().Get("PATCH tag"); got != 7 {
		t.Fatalf("PATCHes = %d, want 7", got)
	}
	if got := s.Calls().Get("POST oauth2/exchange"); got != 1 {
		t.Errorf("Entra ID exchanges = %d, want 1 (refresh token cached)", got)
	}
	// Access tokens: the catalog, one read token for the page's two
	// repositories (batched), and a write token for each repository.
	if got := s.Calls().Get("POST oauth2/token"); got != 4 {
		t.Errorf("access tokens = %d, want 4 (batched reads, cached per scope)", got)
	}
	if n := s.Calls().Get("GET tags 401") + s.Calls().Get("PATCH tag 401"); n != 0 {
		t.Errorf("%d challenges answered: scope prediction failed", n)
	}

	// An Entra ID token the registry refuses fails fast as denied.
	p2 := newProvider(t, setup{hc: emuClient(s), env: map[string]string{}, cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}},
		mods: []func(*Provider){func(p *Provider) {
			p.newCredential = func() (azcore.TokenCredential, error) { return staticCred("stranger"), nil }
		}}})
	_, errs = testutil.Scan(t, p2)
	if providers.ClassOf(errs[s.LoginServer()]) != providers.ErrDenied {
		t.Fatalf("refused Entra ID token: %v", errs)
	}
}

// TestChallengeFallback: a token for the wrong scope gets a 401 challenge;
// the adapter fetches the challenged scope and retries with the body.
func TestChallengeFallback(t *testing.T) {
	s := newEmu(t, emu.Options{})
	seed(s, "app", 2, 0)
	p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}}, Rate: config.Rate{RequestsPerSecond: 1000}}})
	c, _ := testutil.Scan(t, p)
	r := c.Repos()[0].Handle.(*registry)
	// Poison the write scope with a read-scoped token.
	readTok, err := r.tokens.get(t.Context(), "repository:app:metadata_read")
	if err != nil {
		t.Fatal(err)
	}
	r.tokens.mu.Lock()
	e := &tokenEntry{done: make(chan struct{}), tok: readTok, exp: time.Now().Add(time.Hour)}
	close(e.done)
	r.tokens.m["repository:app:metadata_write"] = e
	r.tokens.mu.Unlock()
	if _, res, err := fix(t, t.Context(), p, c.Repos()[0], &testutil.Observer{}); err != nil || !res.Verified {
		t.Fatalf("%+v %v", res, err)
	}
	if s.Calls().Get("PATCH tag 401") == 0 || s.Calls().Get("PATCH tag") != 2 {
		t.Fatalf("counts = %v", s.Calls().Snapshot())
	}
}

func TestDemoEndToEnd(t *testing.T) {
	d, err := emu.StartDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	env := d.Env()
	// No HTTPClient: the CA file from the demo's config must be enough.
	pp, err := New(t.Context(), d.Provider(), providers.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	p := pp.(*Provider)
	c, errs := testutil.Scan(t, p)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	want := map[string]providers.Mode{
		emu.DemoRepoLocked: providers.ModeImmutable, emu.DemoRepoPartial: providers.ModePartial,
		emu.DemoRepoUnlocked: providers.ModeMutable, emu.DemoRepoEmpty: providers.ModeImmutable,
	}
	for name, m := range want {
		if got := c.ByName()[name]; got.Mode != m {
			t.Errorf("%s: %s, want %s (%s)", name, got.Mode, m, got.Error)
		}
	}
	scope, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(t.Context(), scope, repo, tag); err != nil {
		t.Fatalf("overwrite before fix: %v", err)
	}
	for _, r := range c.Repos() {
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Noop {
			continue
		}
		if res, err := p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil || !res.Verified {
			t.Fatalf("%s: %+v %v", r.Name, res, err)
		}
	}
	if err := d.PushTag(t.Context(), scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v", err)
	}
}

// TestAllowedTagsStayMutable is the policy.mutable_tags_allowed contract on
// ACR: after a fix with latest allowed, latest can still be re-pushed and a
// release tag cannot; with nothing allowed both are refused. The audit
// counts the unlocked allowed tag as allowed, and the webhook's LockTag
// leaves it alone.
func TestAllowedTagsStayMutable(t *testing.T) {
	for _, tc := range []struct {
		name          string
		allowed       []string
		writes        int64
		latestRefused bool
	}{
		{"latest allowed", []string{"latest"}, 2, false},
		{"nothing allowed", nil, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEmu(t, emu.Options{SKU: "Premium"})
			for _, tag := range []string{"latest", "v1.0.0", "dev-1"} {
				s.AddTag("team/app", tag, false)
			}
			p := newProvider(t, setup{hc: emuClient(s), cfg: config.Provider{Settings: &Settings{Registries: []string{s.LoginServer()}},
				Rate: config.Rate{RequestsPerSecond: 1000}},
				mods: []func(*Provider){func(p *Provider) { p.opts.MutableTagsAllowed = tc.allowed }}})
			c, _ := testutil.Scan(t, p)
			repo := c.ByName()["team/app"]
			if repo.Mode != providers.ModeMutable {
				t.Fatalf("before: %+v", repo.Immutability)
			}
			ch, err := p.Plan(t.Context(), repo, providers.FixPolicy{MutableTagsAllowed: tc.allowed})
			if err != nil {
				t.Fatal(err)
			}
			if ch.Writes != tc.writes || ch.Noop {
				t.Fatalf("plan = %+v", ch)
			}
			res, err := p.Apply(t.Context(), ch, &testutil.Observer{})
			if err != nil || !res.Verified {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if got := s.Calls().Get("PATCH tag"); got != tc.writes {
				t.Fatalf("%d PATCHes, want %d", got, tc.writes)
			}
			c, _ = testutil.Scan(t, p)
			after := c.ByName()["team/app"]
			ev := audit.Evaluate(after, audit.Policy{MutableTagsAllowed: tc.allowed})
			if ev.Status != audit.StatusCompliant {
				t.Fatalf("after the fix: %s (%s) %+v", ev.Status, ev.Reason, after.Immutability)
			}
			if tc.allowed != nil && (after.Mode != providers.ModePartial || !slices.Equal(after.MutablePatterns, []string{"latest"})) {
				t.Errorf("after: %+v", after.Immutability)
			}
			if err := s.PushTag("team/app", "v1.0.0"); !errors.Is(err, emulator.ErrTagImmutable) {
				t.Errorf("release re-push: %v, want refused", err)
			}
			err = s.PushTag("team/app", "latest")
			if refused := errors.Is(err, emulator.ErrTagImmutable); refused != tc.latestRefused {
				t.Errorf("latest re-push: %v, want refused=%v", err, tc.latestRefused)
			}
			if tc.allowed == nil {
				return
			}
			// A second plan is a no-op, and the webhook path does not lock latest.
			if ch, err := p.Plan(t.Context(), after, providers.FixPolicy{MutableTagsAllowed: tc.allowed}); err != nil || !ch.Noop {
				t.Errorf("second plan: %+v %v", ch, err)
			}
			lr, err := p.LockTag(t.Context(), s.LoginServer(), "team/app", "latest", &testutil.Observer{})
			if err != nil || lr.Writes != 0 {
				t.Errorf("LockTag(latest): %+v %v", lr, err)
			}
			if tg, _ := s.Tag("team/app", "latest"); tg.Locked() {
				t.Error("LockTag locked an allowed tag")
			}
		})
	}
}
