package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

func mutable() providers.Immutability {
	return providers.Immutability{Mode: providers.ModeMutable, Native: "MUTABLE"}
}
func immutable() providers.Immutability {
	return providers.Immutability{Mode: providers.ModeImmutable, Native: "IMMUTABLE"}
}

func estate() (*fake.Provider, *fake.Provider) {
	a := fake.New("aws", providers.KindECR)
	for i := range 50 {
		a.Add("1/us-east-1", fake.Repo{Name: fmt.Sprintf("east/%02d", i), Immutability: immutable()})
	}
	a.Add("1/us-east-1", fake.Repo{Name: "east/mutable", Immutability: mutable()})
	a.Add("1/eu-west-1", fake.Repo{Name: "west/ptc", Immutability: mutable(), DefaultExemption: "pull-through cache"})
	a.FailScope("1/ap-south-1", &providers.APIError{Class: providers.ErrDenied, Code: "AccessDeniedException", Message: "not authorized"})
	b := fake.New("hub", providers.KindDockerHub)
	b.Add("acme", fake.Repo{Name: "acme/web", Immutability: providers.Immutability{Mode: providers.ModeUnknown, Error: "403 forbidden"}})
	return a, b
}

func TestEngineScopeErrorDoesNotHideOthers(t *testing.T) {
	for _, conc := range []int{1, 2, 16} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			a, b := estate()
			eng := &Engine{Providers: []providers.Provider{a, b}, Policy: Policy{Now: now}, Concurrency: conc}
			sc, err := eng.Run(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Report.Close()
			s := sc.Report.Summary
			if s.Repositories != 53 || s.Compliant != 50 || s.Drift != 1 || s.Exempt != 1 || s.Error != 1 || s.ScopeErrors != 1 {
				t.Fatalf("summary %+v", s)
			}
			if s.ByProvider["aws"].Repositories != 52 || s.ByProvider["hub"].Error != 1 {
				t.Fatalf("by provider %+v", s.ByProvider)
			}
			if !s.Incomplete() {
				t.Fatal("incomplete not reported")
			}
			var bad []ScopeResult
			for _, sr := range sc.Report.Scopes {
				if sr.Status != "ok" {
					bad = append(bad, sr)
				}
			}
			if len(bad) != 1 || bad[0].Scope != "1/ap-south-1" || bad[0].Error == "" {
				t.Fatalf("scope results %+v", sc.Report.Scopes)
			}
			if n := sc.Report.Findings.Len(); n != 53 {
				t.Fatalf("findings %d", n)
			}
		})
	}
}

func TestEngineProviderScopesError(t *testing.T) {
	a, _ := estate()
	broken := fake.New("gcp", providers.KindArtifactRegistry)
	broken.ScopesErr = errors.New("ListLocations: permission denied")
	sc, err := (&Engine{Providers: []providers.Provider{broken, a}, Policy: Policy{Now: now}, Concurrency: 1}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Report.Close()
	if sc.Report.Summary.ScopeErrors != 2 || sc.Report.Summary.Repositories != 52 {
		t.Fatalf("summary %+v scopes %+v", sc.Report.Summary, sc.Report.Scopes)
	}
}

func TestEngineCancel(t *testing.T) {
	a := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: mutable()})
	a.Gate = make(chan struct{}) // never opens
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}}).Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestPlanApplyJournalAndIdempotence(t *testing.T) {
	a, b := estate()
	a.Add("1/us-east-1", fake.Repo{Name: "east/broken", Immutability: mutable()})
	eng := &Engine{Providers: []providers.Provider{a, b}, Policy: Policy{Now: now}, Plan: true}
	sc, err := eng.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	// Only drift is planned: not the exempt PTC repository, not the unreadable one.
	defer sc.Changes.Close()
	if cs := sc.Changes.All(); len(cs) != 2 || cs[0].Change.Repository != "east/broken" || cs[1].Change.Repository != "east/mutable" {
		t.Fatalf("changes %+v", cs)
	}
	if a.Writes != 0 {
		t.Fatal("planning wrote")
	}
	path := filepath.Join(t.TempDir(), "state", "journal.jsonl")
	j, err := OpenJournal(path, "run1", nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []ChangeRecord
	err = (&Fixer{Journal: j}).Apply(t.Context(), sc.Changes, func(r ChangeRecord) { recs = append(recs, r) })
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if !r.Verified || r.State != "applied" {
			t.Fatalf("record %+v", r)
		}
	}
	if a.Writes != 2 {
		t.Fatalf("writes %d", a.Writes)
	}
	entries := readJournal(t, path)
	if len(entries) != 6 { // an intent, one write and one verified per change
		t.Fatalf("journal %+v", entries)
	}
	for _, e := range entries {
		if e.RunID != "run1" || e.Provider != "aws" || e.Time.IsZero() {
			t.Fatalf("entry %+v", e)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("journal mode %v", st.Mode())
	}
	// Second run: nothing left to plan, so no writes.
	sc2, err := eng.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc2.Report.Close()
	if sc2.Changes.Len() != 0 || sc2.Report.Summary.Drift != 0 {
		t.Fatalf("second plan %+v summary %+v", sc2.Changes.All(), sc2.Report.Summary)
	}
}

func TestApplyVerifyFailure(t *testing.T) {
	a := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: mutable()})
	a.BreakVerify = true
	sc, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}, Plan: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := OpenJournal(path, "r", nil)
	var recs []ChangeRecord
	err = (&Fixer{Journal: j}).Apply(t.Context(), sc.Changes, func(r ChangeRecord) { recs = append(recs, r) })
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Verified || recs[0].State != "verify-failed" {
		t.Fatalf("records %+v", recs)
	}
	es := readJournal(t, path)
	if es[len(es)-1].Event != "verify-failed" {
		t.Fatalf("journal %+v", es)
	}
}

// A Ctrl-C that lands between a write and its read-back cancels the
// read-back: the write is made, so the change is "unverified" (the next run
// reads it again), not "failed", and the run still stops.
func TestInterruptedReadBackIsUnverified(t *testing.T) {
	a := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: mutable()})
	ctx, cancel := context.WithCancel(t.Context())
	a.AfterWrite = cancel
	a.ReadBackErr = context.Canceled
	sc, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}, Plan: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	var pcs []PlannedChange
	if err := sc.Changes.Each(func(pc PlannedChange) error { pcs = append(pcs, pc); return nil }); err != nil || len(pcs) != 1 {
		t.Fatalf("plan %v, %v", pcs, err)
	}
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := OpenJournal(path, "r", nil)
	rec, err := (&Fixer{Journal: j}).ApplyOne(ctx, pcs[0])
	j.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ApplyOne error %v: an interrupted change must stop the run", err)
	}
	if rec.State != StateUnverified || rec.Verified || rec.Writes != 1 {
		t.Fatalf("record %+v, want unverified with its write", rec)
	}
	es := readJournal(t, path)
	if len(es) != 3 || es[1].Event != "write" || es[2].Event != StateUnverified {
		t.Fatalf("journal %+v", es)
	}
}

// A write that went through but could not be read back is "unverified",
// not "failed": recorded so in the change record and the journal.
func TestApplyReadBackFailureIsUnverified(t *testing.T) {
	a := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: mutable()})
	a.ReadBackErr = &providers.APIError{Class: providers.ErrThrottled, Status: 429, Message: "slow down"}
	sc, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}, Plan: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := OpenJournal(path, "r", nil)
	var recs []ChangeRecord
	err = (&Fixer{Journal: j}).Apply(t.Context(), sc.Changes, func(r ChangeRecord) { recs = append(recs, r) })
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Verified || recs[0].State != StateUnverified || recs[0].Writes != 1 || !strings.Contains(recs[0].Error, "slow down") {
		t.Fatalf("records %+v", recs)
	}
	es := readJournal(t, path)
	if len(es) != 3 || es[0].Event != "intent" || es[1].Event != "write" || es[2].Event != StateUnverified {
		t.Fatalf("journal %+v", es)
	}
	// The next run reads it again: the write is there, so it is compliant.
	sc2, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sc2.Report.Close()
	if sc2.Report.Summary.Compliant != 1 {
		t.Fatalf("next run %+v", sc2.Report.Summary)
	}
}

// A repository whose writes are held back is planned, listed held-back with
// the reason, never applied, and adds no write call to the plan.
func TestHeldBackIsListedNeverApplied(t *testing.T) {
	a := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "cache/nginx", Immutability: mutable(), HoldWrites: "rules unreadable"}).
		Add("s", fake.Repo{Name: "app", Immutability: mutable()})
	sc, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}, Plan: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	if sc.Changes.Len() != 2 || sc.Changes.HeldBack() != 1 || sc.Changes.Writes() != 1 {
		t.Fatalf("plan: %d changes, %d held back, %d writes", sc.Changes.Len(), sc.Changes.HeldBack(), sc.Changes.Writes())
	}
	var planned []ChangeRecord
	_ = sc.Changes.EachRecord(func(r ChangeRecord) error { planned = append(planned, r); return nil })
	j, _ := OpenJournal(filepath.Join(t.TempDir(), "j.jsonl"), "r", nil)
	defer j.Close()
	var recs []ChangeRecord
	if err := (&Fixer{Journal: j}).Apply(t.Context(), sc.Changes, func(r ChangeRecord) { recs = append(recs, r) }); err != nil {
		t.Fatal(err)
	}
	for _, rs := range [][]ChangeRecord{planned, recs} {
		if len(rs) != 2 || rs[1].Repository != "cache/nginx" || rs[1].State != StateHeldBack || rs[1].Error != "rules unreadable" || rs[1].Writes != 0 {
			t.Fatalf("records %+v", rs)
		}
	}
	if a.Writes != 1 {
		t.Fatalf("%d writes, want 1 (app only)", a.Writes)
	}
	if im, _ := a.Get("s", "cache/nginx"); im.Mode != providers.ModeMutable {
		t.Fatalf("held-back repository changed: %+v", im)
	}
}

func readJournal(t *testing.T, path string) []JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

func TestJournalConcurrentAppendsAllDurableAndWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := OpenJournal(path, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for i := range each {
				if e := j.Append(JournalEntry{Event: "write", Provider: "p", Repository: fmt.Sprintf("r%d-%d", w, i)}); e != nil && err == nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	entries := readJournal(t, path) // fails on any torn or interleaved line
	if len(entries) != writers*each {
		t.Fatalf("%d entries, want %d", len(entries), writers*each)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Repository] {
			t.Fatalf("duplicate %s", e.Repository)
		}
		seen[e.Repository] = true
	}
}

// A drifting repository whose fix cannot be planned (a throttled tag listing)
// is a held-back change naming why, so fix exits 1 instead of reporting every
// change applied while the drift stays; nothing is written for it.
func TestUnplannableDriftIsHeldBack(t *testing.T) {
	a := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "x", Immutability: mutable()})
	a.PlanErr = &providers.APIError{Class: providers.ErrThrottled, Status: 429, Message: "too many requests"}
	sc, err := (&Engine{Providers: []providers.Provider{a}, Policy: Policy{Now: now}, Plan: true}).Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sc.Report.Close()
	if sc.Changes.Len() != 1 || sc.Changes.HeldBack() != 1 {
		t.Fatalf("plan: %d change(s), %d held back; want the unplannable drift held back", sc.Changes.Len(), sc.Changes.HeldBack())
	}
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, _ := OpenJournal(path, "r", nil)
	var recs []ChangeRecord
	err = (&Fixer{Journal: j}).Apply(t.Context(), sc.Changes, func(r ChangeRecord) { recs = append(recs, r) })
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].State != StateHeldBack || recs[0].Repository != "x" || recs[0].Provider != "aws" ||
		!strings.Contains(recs[0].Error, "too many requests") || a.Writes != 0 {
		t.Fatalf("records %+v, writes %d", recs, a.Writes)
	}
}
