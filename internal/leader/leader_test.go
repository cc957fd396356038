package leader

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/testutil/pgtest"
)

// waitFor polls cond (no timing is asserted: the bound only guards a hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type replica struct {
	e      *Elector
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	events []bool
}

func start(t *testing.T, dsn, id string) *replica {
	t.Helper()
	r := &replica{done: make(chan struct{})}
	e, err := New(t.Context(), Options{DSN: dsn, ID: id, TTL: 600 * time.Millisecond, Poll: 150 * time.Millisecond,
		OnChange: func(l bool) { r.mu.Lock(); r.events = append(r.events, l); r.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.e, r.cancel = e, cancel
	go func() { defer close(r.done); _ = e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func TestOneLeaderAndTakeover(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	a := start(t, dsn, "a")
	waitFor(t, "a leads", a.e.IsLeader)
	b := start(t, dsn, "b")
	// b keeps trying while a renews: it must never lead at the same time.
	for range 20 {
		if a.e.IsLeader() && b.e.IsLeader() {
			t.Fatal("two leaders at once")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b.e.IsLeader() {
		t.Fatal("b took the lease while a renewed it")
	}
	// a dies without releasing (its renewals stop): b takes over once the
	// lease expires.
	a.e.mu.Lock()
	a.e.crashed = true // ends like a killed process: the lease is not released
	a.e.mu.Unlock()
	a.cancel()
	<-a.done
	waitFor(t, "b takes over", b.e.IsLeader)
	if out, err := srv.Psql(dbName(dsn), "SELECT holder || ' ' || epoch FROM immutag_leader"); err != nil || out != "b 2" {
		t.Errorf("lease row %q (%v), want holder b at epoch 2", out, err)
	}
}

// A leader that cannot reach the database steps down by itself before its
// lease can expire, so the successor never overlaps with it.
func TestLeaderFencesItselfWhenCutOff(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	a := start(t, dsn, "a")
	waitFor(t, "a leads", a.e.IsLeader)
	// Cut a off: every renewal fails from now on.
	a.e.db.Close()
	waitFor(t, "a steps down", func() bool { return !a.e.IsLeader() })
	// IsLeader turns false by the clock; the change is announced at the
	// elector's next step.
	events := func() []bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return append([]bool(nil), a.events...)
	}
	waitFor(t, "a announces it stepped down", func() bool { ev := events(); return len(ev) >= 2 && !ev[len(ev)-1] })
	if ev := events(); !ev[0] {
		t.Errorf("leadership changes %v, want became leader then stepped down", ev)
	}
	b := start(t, dsn, "b")
	waitFor(t, "b leads after a's lease expired", b.e.IsLeader)
}

func dbName(dsn string) string {
	i := len(dsn)
	for j := len(dsn) - 1; j >= 0; j-- {
		if dsn[j] == '?' {
			i = j
		}
		if dsn[j] == '/' {
			return dsn[j+1 : i]
		}
	}
	return ""
}

// TestReplicasStartTogetherOnANewDatabase: replicas starting at the same
// moment on a database without the lease table all start (they raced to
// create it, and all but one could fail with a duplicate key), and one of
// them leads.
func TestReplicasStartTogetherOnANewDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	for round := range 3 {
		dsn := srv.NewDatabase(t)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		electors := make([]*Elector, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				electors[i], errs[i] = New(t.Context(), Options{DSN: dsn, ID: fmt.Sprint("r", i), TTL: 600 * time.Millisecond, Poll: 150 * time.Millisecond})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: replica %d: %v", round, i, err)
			}
			t.Cleanup(func() { electors[i].db.Close() })
		}
	}
}
