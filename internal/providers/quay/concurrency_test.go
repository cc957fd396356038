package quay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/testutil"
)

// flight watches the calls at the emulator (see testutil.Flight).
type flight struct{ *testutil.Flight }

func newFlight(hold int) *flight {
	return &flight{&testutil.Flight{Hold: hold, Classify: func(r *http.Request) (bool, bool) {
		p := r.URL.Path
		return p == "/api/v1/repository", strings.HasPrefix(p, "/api/v1/repository/") && strings.Contains(p, "/immutabilitypolicy")
	}}}
}

func (f *flight) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Around(r, func() { h.ServeHTTP(w, r) })
	})
}

// withConcurrency rebuilds the env's adapter with rate.max_concurrent set.
func withConcurrency(t *testing.T, e *env, n int, namespaces ...string) {
	t.Helper()
	p, err := newProvider(config.Provider{
		Name: "q", Kind: "quay", Endpoint: e.hs.URL, Settings: &Settings{Namespaces: namespaces},
		Credentials: config.Credentials{TokenEnv: tokenEnv}, Rate: config.Rate{MaxConcurrent: n},
	}, providers.Options{Getenv: func(k string) string {
		if k == tokenEnv {
			return token
		}
		return ""
	}}, func(o *httpapi.Options) {
		o.BaseBackoff, o.MaxBackoff, o.MaxRetries = time.Millisecond, 4*time.Millisecond, 30
	})
	testutil.Must(t, err)
	e.p = p
}

func seedMany(t *testing.T, e *env, n int) {
	t.Helper()
	e.s.AddOrg("acme")
	for i := range n {
		testutil.Must(t, e.s.AddRepo("acme", fmt.Sprintf("r%02d", i), "latest"))
	}
	_, err := e.s.AddRepoPolicy("acme", "r07", ".*", true)
	testutil.Must(t, err)
}

// TestPolicyReadsOverlap: with 20 ms per call, 40 repositories and
// max_concurrent 8, the policy reads of one namespace run 8 at a time (never
// more), and the next catalog page is fetched while reads are in flight.
func TestPolicyReadsOverlap(t *testing.T) {
	const limit = 8
	f := newFlight(limit)
	e := setup(t, f.wrap, "acme")
	withConcurrency(t, e, limit, "acme")
	seedMany(t, e, 40)
	e.s.SetFaults(emulator.Faults{Latency: 20 * time.Millisecond, PageSize: 10})

	start := time.Now()
	em := &testutil.Emitter{}
	testutil.Must(t, e.p.Repositories(t.Context(), providers.Scope{Name: "acme"}, em))
	elapsed := time.Since(start)

	if got := len(em.Keys()); got != 40 || em.Dups() != 0 {
		t.Fatalf("emitted %d distinct repositories (%d repeats), want 40 once each", got, em.Dups())
	}
	for k, r := range em.ByKey() {
		want := providers.ModeMutable
		if k == "acme/r07" {
			want = providers.ModeImmutable
		}
		if r.Mode != want {
			t.Errorf("%s: %s (%s), want %s", k, r.Mode, r.Error, want)
		}
	}
	st := f.Stats()
	if st.MaxReads != limit || st.GaveUp {
		t.Errorf("at most %d policy reads were in flight together, want %d (max_concurrent)", st.MaxReads, limit)
	}
	if st.ReadCalls != 40 || st.ListCalls != 4 {
		t.Errorf("%d policy reads and %d catalog pages, want 40 and 4", st.ReadCalls, st.ListCalls)
	}
	if !st.Overlap {
		t.Error("no catalog page was fetched while policy reads were in flight: the listing waits for each page's reads")
	}
	t.Logf("40 repositories at 20 ms per call: %s (one at a time would take over %s); max %d reads in flight",
		elapsed.Round(time.Millisecond), 40*20*time.Millisecond, st.MaxReads)
}

// TestReadAheadIsBounded: while the emitter does not take repositories, the
// adapter holds one repository per worker and the catalog pages that fill
// FanOut's hand-over queue (providers.Ahead); it neither reads nor lists
// further, so memory does not grow with the namespace.
func TestReadAheadIsBounded(t *testing.T) {
	const limit = 2
	f := newFlight(0)
	e := setup(t, f.wrap, "acme")
	withConcurrency(t, e, limit, "acme")
	seedMany(t, e, 40)
	e.s.SetFaults(emulator.Faults{PageSize: 5})

	g := testutil.NewGate(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.p.Repositories(t.Context(), providers.Scope{Name: "acme"}, g) }()
	g.Await(t, limit)
	// Give a runaway reader time to show itself; nothing should move.
	time.Sleep(50 * time.Millisecond)
	// limit items taken, Ahead(limit) queued, one waiting to be queued.
	maxPages := (limit + providers.Ahead(limit) + 1 + 4) / 5
	if reads, lists := f.Counts(); reads != limit || lists > maxPages {
		t.Errorf("with the emitter blocked: %d policy reads and %d catalog pages, want %d and at most %d", reads, lists, limit, maxPages)
	}
	g.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if reads, lists := f.Counts(); len(g.Repos()) != 40 || reads != 40 || lists != 8 {
		t.Errorf("after release: %d emitted, %d reads, %d pages; want 40, 40, 8", len(g.Repos()), reads, lists)
	}
}

// TestCancelStopsWorkers: cancelling the context while every worker waits on
// the emitter returns the cancellation promptly and emits nothing more.
func TestCancelStopsWorkers(t *testing.T) {
	e := setup(t, nil, "acme")
	withConcurrency(t, e, 3, "acme")
	seedMany(t, e, 40)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := testutil.NewGate(ctx)
	done := make(chan error, 1)
	go func() { done <- e.p.Repositories(ctx, providers.Scope{Name: "acme"}, g) }()
	g.Await(t, 3)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Repositories did not return after cancellation")
	}
	if len(g.Repos()) != 0 {
		t.Errorf("%d repositories emitted after cancellation", len(g.Repos()))
	}
}

// TestListFailureKeepsEarlierPages: a catalog page that fails is the scope's
// error, and the repositories of the pages before it are all read and
// emitted with their real mode (none cut short into unknown).
func TestListFailureKeepsEarlierPages(t *testing.T) {
	e := setup(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/repository" && r.URL.Query().Get("next_page") != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"detail":"fm page denied","error_message":"fm page denied","status":403}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "acme")
	withConcurrency(t, e, 8, "acme")
	seedMany(t, e, 40)
	e.s.SetFaults(emulator.Faults{Latency: 5 * time.Millisecond, PageSize: 10})
	em := &testutil.Emitter{}
	err := e.p.Repositories(t.Context(), providers.Scope{Name: "acme"}, em)
	if !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "namespace acme") {
		t.Fatalf("got %v, want a denied scope error naming the namespace", err)
	}
	if got := len(em.Keys()); got != 10 {
		t.Errorf("emitted %d repositories, want the 10 of the first page", got)
	}
	for k, r := range em.ByKey() {
		if r.Mode == providers.ModeUnknown {
			t.Errorf("%s emitted unknown: %s", k, r.Error)
		}
	}
}

func TestMaxConcurrentDefault(t *testing.T) {
	p := newTestProvider(t, "http://127.0.0.1:1", "acme")
	if n := p.maxConcurrent(); n != 8 {
		t.Errorf("default max_concurrent %d, want 8", n)
	}
}
