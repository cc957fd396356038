package serve

import (
	"context"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/leader"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
	"github.com/immutag/immutag/internal/testutil/pgtest"
)

// elector runs one replica's leader election until the returned stop is
// called (a clean shutdown that releases the lease).
func elector(t *testing.T, dsn, id string) (*leader.Elector, func()) {
	t.Helper()
	e, err := leader.New(t.Context(), leader.Options{DSN: dsn, ID: id, TTL: 600 * time.Millisecond, Poll: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return e, stop
}

func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // guards a hang only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two replicas share one PostgreSQL: both scan, only the leader enforces;
// when the leader goes away the other takes over and enforces.
func TestTwoReplicasOneEnforces(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	// One registry both replicas audit.
	reg := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)}).
		Add("s", fake.Repo{Name: "bad1", Immutability: imm(providers.ModeMutable)})

	ea, stopA := elector(t, dsn, "replica-a")
	until(t, "replica-a leads", ea.IsLeader)
	eb, _ := elector(t, dsn, "replica-b")

	oa := testOptions(t, reg)
	oa.Enforce, oa.Leader = true, ea
	sigA, scansA := scanSignal()
	a := startService(t, oa, sigA)
	waitFor(t, scansA, "replica-a scan")
	if m, _ := reg.Get("s", "bad1"); m.Mode != providers.ModeImmutable {
		t.Fatalf("the leader did not enforce: bad1 is %s", m.Mode)
	}

	reg.Add("s", fake.Repo{Name: "bad2", Immutability: imm(providers.ModeMutable)})
	ob := testOptions(t, reg)
	ob.Enforce, ob.Leader = true, eb
	clockB := ob.Clock.(*fakeClock)
	sigB, scansB := scanSignal()
	b := startService(t, ob, sigB)
	waitFor(t, scansB, "replica-b scan")
	if m, _ := reg.Get("s", "bad2"); m.Mode == providers.ModeImmutable {
		t.Fatal("the follower enforced while replica-a led")
	}
	if rep := latestReport(t, b.url); len(rep.Changes) != 0 || rep.Summary.Drift != 1 {
		t.Errorf("follower report: %d changes, %d drift; want a plain audit (0 changes, bad2 drifting)", len(rep.Changes), rep.Summary.Drift)
	}
	if v := mustValue(t, scrape(t, b.url), MetricLeader, nil); v != 0 {
		t.Errorf("%s on the follower = %v", MetricLeader, v)
	}
	if v := mustValue(t, scrape(t, a.url), MetricLeader, nil); v != 1 {
		t.Errorf("%s on the leader = %v", MetricLeader, v)
	}

	// The leader goes away; the follower takes over and enforces at its
	// next scan.
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	stopA()
	until(t, "replica-b takes over", eb.IsLeader)
	until(t, "replica-b's next scan is scheduled", func() bool { return clockB.pending() > 0 })
	clockB.Advance(time.Hour)
	waitFor(t, scansB, "replica-b scan as leader")
	if m, _ := reg.Get("s", "bad2"); m.Mode != providers.ModeImmutable {
		t.Fatalf("the new leader did not enforce: bad2 is %s", m.Mode)
	}
	rep := latestReport(t, b.url)
	if len(rep.Changes) != 1 || !rep.Changes[0].Verified || rep.Changes[0].Repository != "bad2" {
		t.Errorf("new leader's changes: %+v", rep.Changes)
	}
	if v := mustValue(t, scrape(t, b.url), MetricLeader, nil); v != 1 {
		t.Errorf("%s on the new leader = %v", MetricLeader, v)
	}
}
