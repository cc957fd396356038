package dockerhub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
)

const listPath = "/v2/namespaces/acme/repositories"

// flight watches the adapter's calls through its HTTP client (see
// testutil.Flight) and can deny listing pages.
type flight struct {
	*testutil.Flight
	// deny, when set, answers a listing request with 403 instead.
	deny func(*http.Request) bool
	tr   *http.Transport
}

func newFlight(hold int) *flight {
	return &flight{Flight: &testutil.Flight{Hold: hold, Classify: func(r *http.Request) (bool, bool) {
		return r.URL.Path == listPath, strings.HasPrefix(r.URL.Path, listPath+"/")
	}}}
}

// client returns an HTTP client through f. Its idle connections are closed
// before the emulator is: one left open would hold the emulator's shutdown
// for its full grace period.
func (f *flight) client(t *testing.T) *http.Client {
	f.tr = http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(f.tr.CloseIdleConnections)
	return &http.Client{Transport: testutil.RoundTripFunc(f.roundTrip)}
}

func (f *flight) roundTrip(r *http.Request) (resp *http.Response, err error) {
	if r.URL.Path == listPath && f.deny != nil && f.deny(r) {
		return &http.Response{StatusCode: http.StatusForbidden, Request: r,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(strings.NewReader(`{"message":"fm page denied"}`))}, nil
	}
	f.Around(r, func() { resp, err = f.tr.RoundTrip(r) })
	return resp, err
}

func seedMany(t *testing.T, s *hubEmu, n int) {
	t.Helper()
	for i := range n {
		addRepo(t, s, "acme", fmt.Sprintf("r%02d", i), true, i == 7, ".*")
	}
}

// TestReadsOverlap: with 20 ms per call, 40 repositories and
// max_concurrent 8, the repository reads of one namespace run 8 at a time
// (never more), and the next listing page is fetched while reads of the
// previous one are in flight.
func TestReadsOverlap(t *testing.T) {
	const limit = 8
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{Latency: 20 * time.Millisecond, PageSize: 10}})
	seedMany(t, s, 40)
	f := newFlight(limit)
	hc := f.client(t)
	p := newProvider(t, s, func(st *setup) {
		st.hc = hc
		st.rate = config.Rate{RequestsPerSecond: 1000, MaxConcurrent: limit}
	})

	start := time.Now()
	em := &testutil.Emitter{}
	testutil.Must(t, p.Repositories(t.Context(), providers.Scope{Name: "acme"}, em))
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
		t.Errorf("at most %d repository reads were in flight together, want %d (max_concurrent)", st.MaxReads, limit)
	}
	if st.ReadCalls != 40 || st.ListCalls != 4 {
		t.Errorf("%d repository reads and %d listing pages, want 40 and 4", st.ReadCalls, st.ListCalls)
	}
	if !st.Overlap {
		t.Error("no listing page was fetched while repository reads were in flight: the listing waits for each page's reads")
	}
	t.Logf("40 repositories at 20 ms per call: %s (one at a time would take over %s); max %d reads in flight",
		elapsed.Round(time.Millisecond), 40*20*time.Millisecond, st.MaxReads)
}

// TestReadAheadIsBounded: while the emitter does not take repositories, the
// adapter holds one repository per worker and the listing pages that fill
// FanOut's hand-over queue (providers.Ahead); it neither reads nor lists
// further, so memory does not grow with the namespace.
func TestReadAheadIsBounded(t *testing.T) {
	const limit = 2
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{PageSize: 5}})
	seedMany(t, s, 40)
	f := newFlight(0)
	hc := f.client(t)
	p := newProvider(t, s, func(st *setup) {
		st.hc = hc
		st.rate = config.Rate{RequestsPerSecond: 1000, MaxConcurrent: limit}
	})

	g := testutil.NewGate(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Repositories(t.Context(), providers.Scope{Name: "acme"}, g) }()
	g.Await(t, limit)
	// Give a runaway reader time to show itself; nothing should move.
	time.Sleep(50 * time.Millisecond)
	// limit items taken, Ahead(limit) queued, one waiting to be queued.
	maxPages := (limit + providers.Ahead(limit) + 1 + 4) / 5
	if reads, lists := f.Counts(); reads != limit || lists > maxPages {
		t.Errorf("with the emitter blocked: %d repository reads and %d listing pages, want %d and at most %d", reads, lists, limit, maxPages)
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
	s := startEmu(t, hubemu.Options{})
	seedMany(t, s, 40)
	hc := newFlight(0).client(t)
	p := newProvider(t, s, func(st *setup) {
		st.hc = hc
		st.rate = config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 3}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := testutil.NewGate(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Repositories(ctx, providers.Scope{Name: "acme"}, g) }()
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

// TestListFailureKeepsEarlierPages: a listing page that fails is the
// scope's error, and the repositories of the pages before it are all read
// and emitted with their real mode (none cut short into unknown).
func TestListFailureKeepsEarlierPages(t *testing.T) {
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{Latency: 5 * time.Millisecond, PageSize: 10}})
	seedMany(t, s, 40)
	f := newFlight(0)
	f.deny = func(r *http.Request) bool { return r.URL.Query().Get("page") != "1" }
	hc := f.client(t)
	p := newProvider(t, s, func(st *setup) {
		st.hc = hc
		st.rate = config.Rate{RequestsPerSecond: 1000, MaxConcurrent: 8}
	})
	em := &testutil.Emitter{}
	err := p.Repositories(t.Context(), providers.Scope{Name: "acme"}, em)
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
	if len(em.Warnings()) != 0 {
		t.Errorf("warnings on a failed listing: %+v", em.Warnings())
	}
}
