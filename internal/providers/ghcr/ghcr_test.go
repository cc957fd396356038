package ghcr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	ghcremu "github.com/immutag/immutag/internal/emulator/ghcr"
	"github.com/immutag/immutag/internal/ledger"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

const tokenEnv = "GHCR_TEST_TOKEN"

type fixture struct {
	srv   *ghcremu.Server
	hs    *httptest.Server
	token string
	waits []time.Duration
	mu    sync.Mutex
}

func start(t *testing.T, o ghcremu.Options) *fixture {
	t.Helper()
	o.Token = "ghp_test_" + strings.ReplaceAll(t.Name(), "/", "_")
	srv := ghcremu.New(o)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{srv: srv, hs: hs, token: o.Token}
}

func (f *fixture) provider(t *testing.T, owners ...string) *Provider {
	t.Helper()
	env := map[string]string{tokenEnv: f.token}
	p, err := newProvider(config.Provider{Name: "gh", Kind: Kind, Endpoint: f.hs.URL, Settings: config.Keys{"namespaces": owners},
		Credentials: config.Credentials{TokenEnv: tokenEnv}},
		providers.Options{Getenv: func(k string) string { return env[k] }},
		func(o *httpapi.Options) {
			o.RequestsPerSecond = 0
			o.Sleep = func(_ context.Context, d time.Duration) error {
				f.mu.Lock()
				defer f.mu.Unlock()
				f.waits = append(f.waits, d)
				return nil
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(t *testing.T, p *Provider, r providers.Repository) (map[string]providers.Tag, error) {
	t.Helper()
	out := map[string]providers.Tag{}
	err := p.Tags(t.Context(), r, func(tg providers.Tag) error {
		if _, dup := out[tg.Name]; dup {
			t.Errorf("tag %s yielded twice", tg.Name)
		}
		out[tg.Name] = tg
		return nil
	})
	return out, err
}

func TestPackagesOfOrgsAndUsersArePagedAndUnsupported(t *testing.T) {
	f := start(t, ghcremu.Options{Faults: emulator.Faults{PageSize: 2}})
	f.srv.AddOwner("acme", true)
	f.srv.AddOwner("alice", false)
	for _, n := range []string{"api", "web", "tools/builder", "worker", "zeta"} {
		if _, err := f.srv.Push("acme", n, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.srv.Push("alice", "sandbox", "latest"); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, "acme", "alice")
	ems, errs := testutil.ScanEach(t, p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := ems["acme"].Names(); !slices.Equal(got, []string{"api", "tools/builder", "web", "worker", "zeta"}) {
		t.Errorf("acme: %v", got)
	}
	if got := ems["alice"].Names(); !slices.Equal(got, []string{"sandbox"}) {
		t.Errorf("alice: %v", got)
	}
	for _, r := range append(ems["acme"].Repos(), ems["alice"].Repos()...) {
		if r.Mode != providers.ModeUnsupported || r.Note != Note || r.Kind != Kind {
			t.Errorf("%s: %+v", r.Name, r.Immutability)
		}
	}
	if r := ems["acme"].ByName()["tools/builder"]; !strings.HasSuffix(r.URI, "/acme/tools/builder") {
		t.Errorf("uri %q", r.URI)
	}
	// 5 packages at 2 a page = 3 calls; the user's listing goes to /users.
	if n := f.srv.Calls().Get("listOrgPackages"); n != 3 {
		t.Errorf("listOrgPackages = %d, want 3", n)
	}
	if n := f.srv.Calls().Get("listUserPackages"); n != 1 {
		t.Errorf("listUserPackages = %d, want 1", n)
	}
}

func TestTagsFollowVersionsAndSeeTheMovedTag(t *testing.T) {
	f := start(t, ghcremu.Options{Faults: emulator.Faults{PageSize: 3}})
	f.srv.AddOwner("acme", true)
	want := map[string]string{}
	for i := range 7 {
		tag := fmt.Sprintf("1.%d", i)
		d, err := f.srv.Push("acme", "team/app", tag)
		if err != nil {
			t.Fatal(err)
		}
		want[tag] = d
	}
	old, err := f.srv.Push("acme", "team/app", "latest", "2.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Push("acme", "team/app"); err != nil { // untagged version
		t.Fatal(err)
	}
	want["latest"], want["2.0"] = old, old
	p := f.provider(t, "acme")
	repo := providers.Repository{Provider: "gh", Kind: Kind, Scope: "acme", Name: "team/app"}
	got, err := collect(t, p, repo)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tags, want %d", len(got), len(want))
	}
	for tag, d := range want {
		if got[tag].Digest != d || got[tag].Pushed.IsZero() {
			t.Errorf("%s: %+v, want digest %s and a push time", tag, got[tag], d)
		}
	}
	// 9 versions at 3 a page: 3 calls, none per tag.
	if n := f.srv.Calls().Get("listOrgVersions"); n != 3 {
		t.Errorf("listOrgVersions = %d, want 3", n)
	}

	// latest moves to a new version; 2.0 stays where it was.
	neu, err := f.srv.Push("acme", "team/app", "latest")
	if err != nil {
		t.Fatal(err)
	}
	got, err = collect(t, p, repo)
	if err != nil {
		t.Fatal(err)
	}
	if got["latest"].Digest != neu || got["2.0"].Digest != old {
		t.Errorf("after the move: latest %s (want %s), 2.0 %s (want %s)", got["latest"].Digest, neu, got["2.0"].Digest, old)
	}
}

func TestErrorsAndAuth(t *testing.T) {
	f := start(t, ghcremu.Options{})
	f.srv.AddOwner("acme", true)
	f.srv.AddOwner("locked", true)
	f.srv.Deny("locked", true)
	if _, err := f.srv.Push("acme", "api", "v1"); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, "acme", "locked", "ghost")
	_, errs := testutil.Scan(t, p)
	if errs["acme"] != nil {
		t.Errorf("acme: %v", errs["acme"])
	}
	if !errors.Is(errs["locked"], providers.ErrDenied) || !strings.Contains(errs["locked"].Error(), "Resource not accessible") {
		t.Errorf("denied owner: %v, want denied with GitHub's message", errs["locked"])
	}
	if !errors.Is(errs["ghost"], providers.ErrNotFound) {
		t.Errorf("unknown owner: %v, want not found", errs["ghost"])
	}
	_, err := collect(t, p, providers.Repository{Scope: "acme", Name: "nope"})
	if !errors.Is(err, providers.ErrNotFound) || !strings.Contains(err.Error(), "Package not found") {
		t.Errorf("unknown package: %v", err)
	}

	f.token = "ghp_wrong"
	_, errs = testutil.Scan(t, f.provider(t, "acme"))
	if !errors.Is(errs["acme"], providers.ErrDenied) || !strings.Contains(errs["acme"].Error(), "Bad credentials") {
		t.Errorf("wrong token: %v", errs["acme"])
	}
	if strings.Contains(errs["acme"].Error(), "ghp_wrong") {
		t.Error("the token leaked into the error")
	}
	if _, err := newProvider(config.Provider{Name: "x", Settings: config.Keys{"namespaces": []string{"a"}}}, providers.Options{}, nil); err == nil {
		t.Error("no token_env accepted")
	}
	if _, err := newProvider(config.Provider{Name: "x", Credentials: config.Credentials{TokenEnv: "T"}}, providers.Options{}, nil); err == nil {
		t.Error("no namespaces accepted")
	}
	empty, err := newProvider(config.Provider{Name: "x", Endpoint: f.hs.URL, Settings: config.Keys{"namespaces": []string{"acme"}}, Credentials: config.Credentials{TokenEnv: "UNSET_VAR"}},
		providers.Options{Getenv: func(string) string { return "" }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, errs = testutil.Scan(t, empty)
	if errs["acme"] == nil || !strings.Contains(errs["acme"].Error(), "UNSET_VAR") {
		t.Errorf("unset token variable: %v", errs["acme"])
	}
}

func TestRateLimits(t *testing.T) {
	f := start(t, ghcremu.Options{RateLimit: 5000})
	f.srv.AddOwner("acme", true)
	if _, err := f.srv.Push("acme", "api", "v1"); err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, "acme")

	// A spent primary limit: 403 with X-RateLimit-Remaining 0 is throttling,
	// not a denial; the reset is up to an hour away, longer than the client
	// waits, so the scope fails as throttled with GitHub's message.
	f.srv.SetUsed(5000)
	_, errs := testutil.Scan(t, p)
	if err := errs["acme"]; !errors.Is(err, providers.ErrThrottled) || !strings.Contains(err.Error(), "API rate limit exceeded") {
		t.Errorf("spent limit: %v, want throttled", err)
	}

	// Secondary limits on a burst: 403 + Retry-After, retried after the wait.
	f.srv.SetUsed(0)
	f.srv.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: 3 * time.Second})
	done := make(chan struct{})
	var once sync.Once
	calls := 0
	p2 := f.provider(t, "acme")
	p2.tweak = func(o *httpapi.Options) {
		o.RequestsPerSecond = 0
		o.Sleep = func(_ context.Context, d time.Duration) error {
			f.mu.Lock()
			f.waits = append(f.waits, d)
			calls++
			if calls == 2 {
				f.srv.SetFaults(emulator.Faults{})
				once.Do(func() { close(done) })
			}
			f.mu.Unlock()
			return nil
		}
	}
	e, errs := testutil.Scan(t, p2)
	<-done
	if len(errs) > 0 || len(e.Repos()) != 1 {
		t.Fatalf("secondary limit burst: errs %v repos %v", errs, e.Names())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waits) < 2 || f.waits[len(f.waits)-1] != 3*time.Second || f.waits[len(f.waits)-2] != 3*time.Second {
		t.Errorf("waits %v, want the advertised 3s", f.waits)
	}
}

func TestRateLimitTransportKeepsRealDenials(t *testing.T) {
	cases := []struct {
		h    http.Header
		body string
		want int
	}{
		{http.Header{"X-Ratelimit-Remaining": {"0"}}, `{"message":"API rate limit exceeded"}`, 429},
		{http.Header{"Retry-After": {"60"}}, `{"message":"x"}`, 429},
		{http.Header{"X-Ratelimit-Remaining": {"4999"}}, `{"message":"You have exceeded a secondary rate limit."}`, 429},
		{http.Header{"X-Ratelimit-Remaining": {"4999"}}, `{"message":"Must have admin rights to Repository."}`, 403},
	}
	wait := func(h http.Header) string {
		rt := &rateLimitTransport{base: testutil.RoundTripFunc(func(*http.Request) (*http.Response, error) {
			rec := httptest.NewRecorder()
			for k, v := range h {
				rec.Header()[k] = v
			}
			rec.WriteHeader(403)
			rec.WriteString(`{"message":"You have exceeded a secondary rate limit."}`)
			return rec.Result(), nil
		})}
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Get("Retry-After")
	}
	if w := wait(http.Header{}); w != "60" {
		t.Errorf("secondary limit without a time: Retry-After %q, want GitHub's one minute", w)
	}
	if w := wait(http.Header{"Retry-After": {"7"}}); w != "7" {
		t.Errorf("advertised wait replaced: %q", w)
	}
	for _, c := range cases {
		rt := &rateLimitTransport{base: testutil.RoundTripFunc(func(*http.Request) (*http.Response, error) {
			rec := httptest.NewRecorder()
			for k, v := range c.h {
				rec.Header()[k] = v
			}
			rec.WriteHeader(403)
			rec.WriteString(c.body)
			return rec.Result(), nil
		})}
		req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.want {
			t.Errorf("%v %s: %d, want %d", c.h, c.body, resp.StatusCode, c.want)
		}
	}
}

func TestCancelStopsPaging(t *testing.T) {
	f := start(t, ghcremu.Options{Faults: emulator.Faults{PageSize: 1}})
	f.srv.AddOwner("acme", true)
	for i := range 5 {
		if _, err := f.srv.Push("acme", fmt.Sprintf("p%d", i), "v1"); err != nil {
			t.Fatal(err)
		}
	}
	p := f.provider(t, "acme")
	ctx, cancel := context.WithCancel(t.Context())
	e := &stopAt{n: 2, cancel: cancel}
	err := p.Repositories(ctx, providers.Scope{Name: "acme"}, e)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if e.seen != 2 {
		t.Errorf("%d repositories emitted after cancelling at 2", e.seen)
	}
}

type stopAt struct {
	testutil.Emitter
	n, seen int
	cancel  func()
}

func (s *stopAt) Repository(providers.Repository) error {
	s.seen++
	if s.seen == s.n {
		s.cancel()
	}
	return nil
}

func TestFindingSaysWhatCanBeDone(t *testing.T) {
	f := start(t, ghcremu.Options{})
	f.srv.AddOwner("acme", true)
	if _, err := f.srv.Push("acme", "api", "v1"); err != nil {
		t.Fatal(err)
	}
	e, errs := testutil.Scan(t, f.provider(t, "acme"))
	if len(errs) > 0 || len(e.Repos()) != 1 {
		t.Fatal(errs, e.Names())
	}
	ev := audit.Evaluate(e.Repos()[0], audit.Policy{})
	if ev.Status != audit.StatusDrift || ev.Remediation != Remediation || !strings.Contains(ev.Reason, Note) {
		t.Errorf("evaluation %+v", ev)
	}
}

// TestLedgerSeesTheMovedTag: two recorded scans around a tag moving to
// another version report it as an overwrite with both digests and the
// version's push time.
func TestLedgerSeesTheMovedTag(t *testing.T) {
	f := start(t, ghcremu.Options{})
	f.srv.AddOwner("acme", true)
	old, err := f.srv.Push("acme", "api", "1.0.0", "latest")
	if err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, "acme")
	ctx := t.Context()
	store, err := ledger.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clock := time.Date(2026, 9, 1, 15, 0, 0, 0, time.UTC)
	var overwrites []ledger.Overwrite
	record := func() {
		t.Helper()
		rec := store.Record(ledger.RecordOptions{Now: func() time.Time { return clock },
			OnOverwrite: func(o ledger.Overwrite) { overwrites = append(overwrites, o) }})
		e, errs := testutil.Scan(t, p)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, r := range e.Repos() {
			lr := ledger.Repo{Provider: p.Name(), Scope: r.Scope, Repository: r.Name}
			if err := p.Tags(ctx, r, func(tg providers.Tag) error { return rec.Tag(ctx, lr, tg) }); err != nil {
				t.Fatal(err)
			}
			if err := rec.RepositoryDone(ctx, lr); err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Finish(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	record()
	neu, err := f.srv.Push("acme", "api", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Hour)
	record()
	if len(overwrites) != 1 {
		t.Fatalf("overwrites %+v, want acme/api:1.0.0 only (latest stayed)", overwrites)
	}
	if o := overwrites[0]; o.Tag != "1.0.0" || o.Previous != old || o.Digest != neu || o.Pushed.IsZero() {
		t.Errorf("overwrite %+v, want 1.0.0 %s -> %s with a push time", o, old, neu)
	}
}
