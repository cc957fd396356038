package audit

import (
	"cmp"
	"fmt"
	"sync"

	"github.com/immutag/immutag/internal/providers"
)

// planSortLimit is the largest plan whose changes are handed out sorted
// (provider, scope, repository, target); above it they come in arrival
// order so memory stays flat. A variable for tests.
var planSortLimit = 10000

// Plan is the set of changes a fix run will make. The changes live in an
// on-disk spool, not in memory, so planning a fix for a hundred thousand
// drifting repositories costs no more memory than for ten. Only the
// enforcers (one per provider) and the shared targets already counted stay
// in memory.
//
// A change read back from the spool is the change as planned, Ref
// included: Apply works from the Ref alone, so nothing is lost on disk.
type Plan struct {
	mu        sync.Mutex
	spool     *Spool[plannedEntry]
	enforcers map[string]providers.Enforcer
	writes    int64
	held      int
	shared    map[string]bool
}

type plannedEntry struct {
	Change    providers.Change `json:"change"`
	FindingID string           `json:"finding_id,omitempty"`
}

// NewPlan creates an empty plan.
func NewPlan() *Plan {
	return &Plan{spool: NewSpool[plannedEntry](), enforcers: map[string]providers.Enforcer{}, shared: map[string]bool{}}
}

// PlanOf builds a plan holding changes (webhooks, tests).
func PlanOf(changes ...PlannedChange) *Plan {
	p := NewPlan()
	for _, c := range changes {
		_ = p.Add(c)
	}
	return p
}

// Add appends one change. Changes of one provider share its enforcer.
func (p *Plan) Add(pc PlannedChange) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := pc.Change
	if _, ok := p.enforcers[c.Provider]; !ok && pc.Enforcer != nil {
		p.enforcers[c.Provider] = pc.Enforcer
	}
	// A shared target (a Quay organisation policy, a Harbor project rule) is
	// planned once per repository it covers but written once: Apply
	// re-reads and skips the rest.
	if c.HeldBack != "" {
		// Listed, never written: it adds no write call.
		p.held++
		return p.spool.Add(plannedEntry{Change: c, FindingID: pc.FindingID})
	}
	counted := false
	if c.Target != "" {
		key := c.Provider + "\x00" + c.Scope + "\x00" + c.Target + "\x00" + c.Action
		counted = p.shared[key]
		p.shared[key] = true
	}
	if !counted {
		p.writes += c.Writes
	}
	return p.spool.Add(plannedEntry{Change: c, FindingID: pc.FindingID})
}

// Len is the number of changes.
func (p *Plan) Len() int {
	if p == nil {
		return 0
	}
	return p.spool.Len()
}

// HeldBack is the number of changes planned but held back (never applied).
func (p *Plan) HeldBack() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Writes estimates the write calls the plan makes, counting a shared target once.
func (p *Plan) Writes() int64 {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// Each calls fn for every change, sorted by provider, scope, repository and
// target (in memory up to planSortLimit changes, on disk beyond). fn must
// not add to the plan.
func (p *Plan) Each(fn func(PlannedChange) error) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	enf := make(map[string]providers.Enforcer, len(p.enforcers))
	for k, v := range p.enforcers {
		enf[k] = v
	}
	p.mu.Unlock()
	out := func(e plannedEntry) error {
		return fn(PlannedChange{Change: e.Change, Enforcer: enf[e.Change.Provider], FindingID: e.FindingID})
	}
	order := func(x, y plannedEntry) int {
		a, b := x.Change, y.Change
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Scope, b.Scope),
			cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Target, b.Target))
	}
	if p.spool.Len() <= planSortLimit {
		return p.spool.EachSorted(planSortLimit, order, out)
	}
	// Too many to sort in memory: sort on disk, so a plan of any size is
	// applied and reported in the one stable order.
	sorted, err := SortSpool(order, SortRun, p.spool.Each)
	if err != nil {
		return fmt.Errorf("order the plan: %w", err)
	}
	defer sorted.Close()
	return sorted.Each(out)
}

// All returns every change (tests and small plans only).
func (p *Plan) All() []PlannedChange {
	var out []PlannedChange
	_ = p.Each(func(c PlannedChange) error { out = append(out, c); return nil })
	return out
}

// Close removes the spool file.
func (p *Plan) Close() error {
	if p == nil {
		return nil
	}
	return p.spool.Close()
}
