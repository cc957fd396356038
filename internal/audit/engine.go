package audit

import (
	"github.com/immutag/immutag/internal/redact"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/immutag/immutag/internal/providers"
)

// DefaultConcurrency is how many scopes are listed at once unless --concurrency says otherwise.
const DefaultConcurrency = 4

// Engine scans providers and evaluates every repository against the policy.
type Engine struct {
	Providers   []providers.Provider
	Policy      Policy
	Concurrency int
	Log         *slog.Logger
	// Plan, when set, also plans a fix for every drifting repository whose
	// provider can enforce (fix runs). Planned changes come back in Scan.Changes.
	Plan bool
	// PlanDefaults also asks DefaultsEnforcer providers for their changes
	// (ECR repository creation templates).
	PlanDefaults bool
	// OnRepository, when set, is called from the collector for progress output.
	OnRepository func(Finding)
	// Annotate, when set, may add fields to each finding before it is
	// recorded (audit --iac adds Code). It runs on the collector only.
	Annotate func(*Finding)
	// Shard, when it splits the work, keeps only this process's part: whole
	// scopes by a stable hash, and for RepositorySharder adapters the
	// repositories of every scope by a stable hash of their names.
	Shard *Shard
	// Record, when set, records every listed repository's tags (audit --record).
	Record TagRecorder
}

// Scan is the outcome of Engine.Run: the report (without run metadata) and,
// for fix runs, the planned changes (nil otherwise; Close it).
type Scan struct {
	Report  *Report
	Changes *Plan
}

// PlannedChange pairs a change with the enforcer that can apply it.
type PlannedChange struct {
	Change    providers.Change
	Enforcer  providers.Enforcer
	FindingID string
}

// event is what workers send to the single collecting goroutine, so the
// report is built without locks.
type event struct {
	finding *Finding
	scope   *ScopeResult
	warning *providers.Warning
	change  *PlannedChange
}

type emitter struct {
	ctx   context.Context
	eng   *Engine
	prov  providers.Provider
	scope string
	out   chan<- event
	count atomic.Int64
	// split, when set, keeps only the repositories this shard owns.
	split *Shard
}

// Wants tells adapters that can skip a repository before reading it
// (providers.Wanted) whether this run keeps it.
func (e *emitter) Wants(name string) bool {
	return e.split == nil || e.split.OwnsRepository(e.prov.Name(), e.scope, name)
}

func (e *emitter) send(ev event) error {
	select {
	case e.out <- ev:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

func (e *emitter) Repository(r providers.Repository) error {
	// The last line of defence for adapters that do not check their
	// listings: a name no registry allows is never graded, and is shown
	// escaped. Adapters that check report it already (providers.EntryCheck).
	if err := providers.CheckName(r.Kind, r.Name); err != nil {
		bad := providers.InvalidEntry(r.Provider, r.Kind, r.Scope, r.Name, int(e.count.Load())+1, err)
		r.Name, r.Immutability, r.Handle, r.DefaultExemption = bad.Name, bad.Immutability, nil, ""
	}
	if r.Provider == "" {
		r.Provider = e.prov.Name()
	}
	if r.Kind == "" {
		r.Kind = e.prov.Kind()
	}
	if r.Scope == "" {
		r.Scope = e.scope
	}
	if !e.Wants(r.Name) {
		return nil
	}
	e.count.Add(1)
	ev := Evaluate(r, e.eng.Policy)
	f := NewFinding(r, ev)
	if err := e.send(event{finding: &f}); err != nil {
		return err
	}
	if e.eng.Record != nil {
		if err := e.eng.Record.RecordTags(e.ctx, e.prov, r, e.Warn); err != nil {
			return err
		}
	}
	if e.eng.Plan && ev.Status == StatusDrift {
		enf, ok := e.prov.(providers.Enforcer)
		if !ok {
			return nil
		}
		c, err := enf.Plan(e.ctx, r, e.eng.Policy.Fix())
		if err != nil {
			if e.ctx.Err() != nil {
				return e.ctx.Err()
			}
			// A drifting repository whose fix cannot be planned (its tags
			// throttled away, a denied read) is a change held back with the
			// reason, not only a warning: otherwise fix --apply reports every
			// change applied and exits 0 while the drift stays.
			return e.send(event{change: &PlannedChange{Enforcer: enf, FindingID: f.ID, Change: providers.Change{
				Provider: r.Provider, Kind: r.Kind, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability,
				Action:   "none: the fix could not be planned",
				HeldBack: redact.String(fmt.Sprintf("cannot plan a fix for %s: %v; the next run plans it again", r.Name, err)),
			}}})
		}
		if !c.Noop {
			if c.HeldBack == "" {
				c.HeldBack = r.HoldWrites
			}
			return e.send(event{change: &PlannedChange{Change: c, Enforcer: enf, FindingID: f.ID}})
		}
	}
	return nil
}

func (e *emitter) Warn(w providers.Warning) {
	if w.Provider == "" {
		w.Provider = e.prov.Name()
	}
	if w.Scope == "" {
		w.Scope = e.scope
	}
	_ = e.send(event{warning: &w})
}

// Run lists every scope of every provider with at most Concurrency scopes at
// once. A failing scope is recorded and the others go on; only context
// cancellation stops the scan early.
func (eng *Engine) Run(ctx context.Context) (*Scan, error) {
	log := eng.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	limit := eng.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	rep := &Report{
		SchemaVersion: SchemaVersion,
		Summary:       Summary{ByProvider: map[string]Counts{}},
		Scopes:        []ScopeResult{},
		Warnings:      []providers.Warning{},
		Findings:      NewSpool[Finding](),
	}
	for _, p := range eng.Providers {
		rep.Summary.ByProvider[p.Name()] = Counts{}
	}
	scan := &Scan{Report: rep}
	if eng.Plan || eng.PlanDefaults {
		scan.Changes = NewPlan()
	}

	events := make(chan event, 256)
	// Findings are sorted as they arrive (runs of collectRun spooled while
	// the scopes are still being listed), so only the merge is left once
	// the last scope is done.
	findings := NewSorter(CompareFindings, collectRun)
	var planErr error // written by the collector only
	var collect sync.WaitGroup
	collect.Add(1)
	go func() {
		defer collect.Done()
		for ev := range events {
			switch {
			case ev.finding != nil:
				f := ev.finding
				f.Reason, f.Note = redact.String(f.Reason), redact.String(f.Note)
				if eng.Annotate != nil {
					eng.Annotate(f)
				}
				_ = findings.Add(*f) // a failed Add is reported by Finish
				rep.Summary.Counts.add(f.Status)
				c := rep.Summary.ByProvider[f.Provider]
				c.add(f.Status)
				rep.Summary.ByProvider[f.Provider] = c
				if eng.OnRepository != nil {
					eng.OnRepository(*f)
				}
			case ev.scope != nil:
				ev.scope.Error = redact.String(ev.scope.Error)
				rep.Scopes = append(rep.Scopes, *ev.scope)
				if ev.scope.Status != "ok" {
					rep.Summary.ScopeErrors++
				}
			case ev.warning != nil:
				ev.warning.Message = redact.String(ev.warning.Message)
				rep.Warnings = append(rep.Warnings, *ev.warning)
			case ev.change != nil:
				if err := scan.Changes.Add(*ev.change); err != nil && planErr == nil {
					planErr = err
				}
			}
		}
	}()

	// Each provider enumerates its scopes (may call an API) and hands them
	// to the listing group as soon as it has them: waiting for every
	// provider's enumeration held every listing back by the slowest one
	// (a GitLab group walk, a Quay organisation listing). Two groups,
	// because a worker that adds work to its own limited group can
	// deadlock once every slot waits to add more.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(limit)
	for _, p := range eng.Providers {
		eg.Go(func() error {
			scopes, err := p.Scopes(ectx)
			if err != nil {
				if ectx.Err() != nil {
					return ectx.Err()
				}
				log.Warn("provider unreadable", "provider", p.Name(), "error", err)
				sr := ScopeResult{Provider: p.Name(), Kind: p.Kind(), Scope: "*", Status: "error", Error: err.Error()}
				select {
				case events <- event{scope: &sr}:
					return nil
				case <-ectx.Done():
					return ectx.Err()
				}
			}
			split := eng.Shard.Sharded() && splitScopes(p, len(scopes), *eng.Shard)
			for _, s := range scopes {
				var only *Shard
				switch {
				case split:
					only = eng.Shard
				case eng.Shard.Sharded() && !eng.Shard.OwnsScope(p.Name(), s.Name):
					continue
				}
				if gctx.Err() != nil {
					return gctx.Err()
				}
				g.Go(func() error { return eng.listScope(gctx, p, s, only, events, log) })
			}
			// Account-wide defaults are planned by one shard only.
			if eng.Shard.Sharded() && !eng.Shard.OwnsScope(p.Name(), "\x00defaults") {
				return nil
			}
			if de, ok := p.(providers.DefaultsEnforcer); ok && eng.PlanDefaults {
				g.Go(func() error { return eng.planDefaults(gctx, p, de, events) })
			}
			return nil
		})
	}
	err := eg.Wait()
	// Every g.Go has been called once eg is done; listings already started
	// finish (or see the cancellation) before the events close.
	if gerr := g.Wait(); err == nil {
		err = gerr
	}
	close(events)
	collect.Wait()
	// Scopes are listed concurrently: put findings and warnings in one
	// stable order so every format of two runs over the same estate diffs
	// cleanly (and the shards of a split run merge to the same report).
	if sorted, serr := findings.Finish(); serr != nil {
		if err == nil {
			err = fmt.Errorf("order the findings: %w", serr)
		}
	} else {
		rep.Findings.Close()
		rep.Findings = sorted
	}
	slices.SortStableFunc(rep.Warnings, CompareWarnings)
	sort.SliceStable(rep.Scopes, func(i, j int) bool {
		a, b := rep.Scopes[i], rep.Scopes[j]
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return a.Scope < b.Scope
	})
	if err == nil && planErr != nil {
		// A change that could not be kept would silently be left out of the fix.
		err = fmt.Errorf("record the plan: %w", planErr)
	}
	if err != nil {
		return scan, err
	}
	return scan, ctx.Err()
}

// listScope must not return a scope's own error: errgroup would cancel the
// other scopes. Only cancellation is returned.
func (eng *Engine) listScope(ctx context.Context, p providers.Provider, s providers.Scope, split *Shard, out chan<- event, log *slog.Logger) error {
	em := &emitter{ctx: ctx, eng: eng, prov: p, scope: s.Name, out: out, split: split}
	start := time.Now()
	err := p.Repositories(ctx, s, em)
	sr := ScopeResult{Provider: p.Name(), Kind: p.Kind(), Scope: s.Name, Status: "ok", Repositories: int(em.count.Load())}
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return ctx.Err()
		}
		sr.Status, sr.Error = "error", err.Error()
		log.Warn("scope unreadable", "provider", p.Name(), "scope", s.Name, "error", err)
	} else {
		log.Debug("scope listed", "provider", p.Name(), "scope", s.Name, "repositories", em.count.Load(), "duration", time.Since(start))
	}
	select {
	case out <- event{scope: &sr}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (eng *Engine) planDefaults(ctx context.Context, p providers.Provider, de providers.DefaultsEnforcer, out chan<- event) error {
	changes, err := de.PlanDefaults(ctx, eng.Policy.Fix())
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w := providers.Warning{Provider: p.Name(), Code: "defaults-plan-failed", Message: err.Error()}
		select {
		case out <- event{warning: &w}:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	enf, _ := p.(providers.Enforcer)
	for _, c := range changes {
		if c.Noop || enf == nil {
			continue
		}
		pc := PlannedChange{Change: c, Enforcer: enf}
		select {
		case out <- event{change: &pc}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
