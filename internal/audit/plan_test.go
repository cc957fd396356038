package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/immutag/immutag/internal/providers"
)

// recEnforcer applies every change at once and remembers what it was given.
type recEnforcer struct {
	mu      sync.Mutex
	got     []providers.Change
	block   chan struct{} // when set, Apply waits for it (or cancellation)
	discard bool          // do not remember changes (benchmarks)
	started atomic.Int64
}

func (e *recEnforcer) Plan(context.Context, providers.Repository, providers.FixPolicy) (providers.Change, error) {
	return providers.Change{}, nil
}

func (e *recEnforcer) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	e.started.Add(1)
	if e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return providers.Result{Change: c}, ctx.Err()
		}
	}
	if !e.discard {
		e.mu.Lock()
		e.got = append(e.got, c)
		e.mu.Unlock()
	}
	o.Write(c, providers.WriteRecord{Call: "Put", Before: string(c.From.Mode), After: string(c.To.Mode)})
	return providers.Result{Change: c, After: c.To, Verified: true, Writes: 1}, nil
}

func change(provider, scope, repo string) providers.Change {
	return providers.Change{Provider: provider, Kind: providers.KindHarbor, Scope: scope, Repository: repo,
		From:   providers.Immutability{Mode: providers.ModeMutable, MutablePatterns: []string{"*"}},
		To:     providers.Immutability{Mode: providers.ModePartial, MutablePatterns: []string{"dev-*"}, Native: "rule"},
		Action: "POST rule", Writes: 1, Ref: json.RawMessage(`{"project":"` + scope + `","allowed":["dev-*"]}`)}
}

func TestPlanKeepsChangesOnDiskSortedWithTheirEnforcer(t *testing.T) {
	a, b := &recEnforcer{}, &recEnforcer{}
	p := NewPlan()
	defer p.Close()
	for _, pc := range []PlannedChange{
		{Change: change("zeta", "s", "r2"), Enforcer: b, FindingID: "f4"},
		{Change: change("alpha", "s2", "r1"), Enforcer: a, FindingID: "f2"},
		{Change: change("alpha", "s1", "r9"), Enforcer: a, FindingID: "f1"},
		{Change: change("zeta", "s", "r1"), Enforcer: b, FindingID: "f3"},
	} {
		if err := p.Add(pc); err != nil {
			t.Fatal(err)
		}
	}
	if p.spool.f == nil {
		t.Fatal("the plan is not spooled to a file")
	}
	got := p.All()
	want := []string{"f1", "f2", "f3", "f4"}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d", len(got), len(want))
	}
	for i, pc := range got {
		if pc.FindingID != want[i] {
			t.Errorf("change %d is %s, want %s (sorted by provider, scope, repository)", i, pc.FindingID, want[i])
		}
		wantEnf := providers.Enforcer(a)
		if pc.Change.Provider == "zeta" {
			wantEnf = b
		}
		if pc.Enforcer != wantEnf {
			t.Errorf("%s: enforcer of the wrong provider", pc.FindingID)
		}
		c := pc.Change
		if want := `{"project":"` + c.Scope + `","allowed":["dev-*"]}`; string(c.Ref) != want {
			t.Errorf("%s: ref after the spool is %s, want %s", pc.FindingID, c.Ref, want)
		}
		if c.To.Mode != providers.ModePartial || len(c.To.MutablePatterns) != 1 || c.From.MutablePatterns[0] != "*" || c.Action != "POST rule" || c.Writes != 1 {
			t.Errorf("%s: fields lost in the spool: %+v", pc.FindingID, c)
		}
	}
}

func TestPlanWritesCountSharedTargetsOnce(t *testing.T) {
	pc := func(repo, target, action string, w int64) PlannedChange {
		return PlannedChange{Change: providers.Change{Provider: "q", Scope: "acme", Repository: repo, Target: target, Action: action, Writes: w}}
	}
	p := PlanOf(
		pc("a", "organization-policy", "POST policy", 1),
		pc("b", "organization-policy", "POST policy", 1),
		pc("c", "", "PATCH c", 1),
		pc("d", "", "lock 5 tags", 5),
		pc("e", "organization-policy", "PUT other", 1),
	)
	defer p.Close()
	if got := p.Writes(); got != 8 {
		t.Fatalf("Writes = %d, want 8", got)
	}
	if p.Len() != 5 {
		t.Fatalf("Len = %d", p.Len())
	}
}

// Above planSortLimit the plan is sorted on disk (the one stable order,
// however large) and Apply hands records out as they complete: every
// change is applied and recorded once.
func TestApplyLargePlanStreams(t *testing.T) {
	old := planSortLimit
	planSortLimit = 10
	t.Cleanup(func() { planSortLimit = old })
	enf := &recEnforcer{}
	p := NewPlan()
	defer p.Close()
	const n = 250
	for i := range n {
		if err := p.Add(PlannedChange{Change: change("h", "s", fmt.Sprintf("r%03d", n-i)), Enforcer: enf, FindingID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if first := p.All()[0].Change.Repository; first != "r001" {
		t.Fatalf("a large plan is not in the stable order: first %s, want r001", first)
	}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	seen := map[string]int{}
	if err := (&Fixer{Journal: j, Concurrency: 8}).Apply(t.Context(), p, func(r ChangeRecord) { seen[r.FindingID]++ }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || len(enf.got) != n {
		t.Fatalf("%d records, %d applied; want %d", len(seen), len(enf.got), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("change %s recorded %d times", id, k)
		}
	}
}

// A cancelled Apply records every change it did not start as not-applied,
// including those still in the spool, and starts none after the stop.
func TestApplyCancelledRecordsTheRest(t *testing.T) {
	enf := &recEnforcer{block: make(chan struct{})}
	p := NewPlan()
	defer p.Close()
	const n = 40
	for i := range n {
		_ = p.Add(PlannedChange{Change: change("h", "s", fmt.Sprintf("r%02d", i)), Enforcer: enf})
	}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for enf.started.Load() < 4 {
			runtime.Gosched()
		}
		cancel()
	}()
	states := map[string]int{}
	err = (&Fixer{Journal: j, Concurrency: 4}).Apply(ctx, p, func(r ChangeRecord) { states[r.State]++ })
	if err == nil {
		t.Fatal("a cancelled run reported success")
	}
	total := 0
	for _, k := range states {
		total += k
	}
	if total != n || states["not-applied"] < n-4 || states["applied"] != 0 {
		t.Fatalf("states %v, want %d records with at least %d not-applied", states, n, n-4)
	}
	if s := enf.started.Load(); s != 4 {
		t.Fatalf("%d changes started, want the 4 running when the run stopped", s)
	}
}

// BenchmarkPlan100k plans and applies 100,000 changes: the heap in use
// after planning and at the end of applying stays flat because the plan
// and the records live in spools.
func BenchmarkPlan100k(b *testing.B) {
	enf := &recEnforcer{discard: true}
	for b.Loop() {
		p := NewPlan()
		for i := range 100_000 {
			_ = p.Add(PlannedChange{Change: change("h", fmt.Sprint("s", i%50), fmt.Sprintf("repo-%06d", i)), Enforcer: enf})
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB-planned")
		j, err := OpenJournal(filepath.Join(b.TempDir(), "j.jsonl"), "r", nil)
		if err != nil {
			b.Fatal(err)
		}
		recs := NewSpool[ChangeRecord]()
		if err := (&Fixer{Journal: j, Concurrency: 8}).Apply(context.Background(), p, func(r ChangeRecord) { _ = recs.Add(r) }); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB-applied")
		_ = recs.Close()
		_ = j.Close()
		_ = p.Close()
	}
}
