package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/immutag/immutag/internal/redact"

	"github.com/immutag/immutag/internal/providers"
)

// Journal appends one JSON line per write to a file that is synced after
// every line, so an interrupted run leaves a record of exactly what it changed.
//
// Appends from many goroutines share fsyncs (group commit): each Append still
// returns only once its own line is on disk, but one fsync covers every line
// written before it started, so parallel writers do not queue one fsync each.
type Journal struct {
	mu      sync.Mutex
	written uint64 // lines written; guarded by mu
	syncMu  sync.Mutex
	synced  uint64 // lines known durable; guarded by syncMu
	f       *os.File
	runID   string
	now     func() time.Time
	intents atomic.Uint64 // intent ids handed out by this run
}

// JournalEntry is one line of the journal.
type JournalEntry struct {
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
	Event string    `json:"event"` // intent | write | verified | unverified | verify-failed | failed | interrupted
	// Intent ties an intent line (written before a change's first write
	// call) to the lines of that change's writes and to its outcome.
	Intent     string         `json:"intent,omitempty"`
	Provider   string         `json:"provider"`
	Kind       providers.Kind `json:"kind"`
	Scope      string         `json:"scope"`
	Repository string         `json:"repository"`
	Target     string         `json:"target,omitempty"`
	Call       string         `json:"call,omitempty"`
	Before     string         `json:"before,omitempty"`
	After      string         `json:"after,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// OpenJournal opens (creating with 0600 and parent directories) the journal file for appending.
// A path CheckJournal refuses is an error.
func OpenJournal(path, runID string, now func() time.Time) (*Journal, error) {
	if now == nil {
		now = time.Now
	}
	if err := CheckJournal(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// A run killed mid-line leaves a torn last line; end it, so the next
	// line is not glued to it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte("\n")); err != nil {
				f.Close()
				return nil, fmt.Errorf("journal %s: %w", path, err)
			}
		}
	}
	return &Journal{f: f, runID: runID, now: now}, nil
}

// Recover completes, in the journal, the changes an earlier run announced
// (an intent line) without recording their outcome: that run was killed
// between the two, so writes it made may be in place with no other line.
// Each gets an "interrupted" line; the caller's own audit reads the setting
// back and plans whatever is still missing. It returns how many there were.
// Call it with the journal's lock held, before applying anything.
func (j *Journal) Recover() (int, error) {
	r, err := os.Open(j.f.Name())
	if err != nil {
		return 0, fmt.Errorf("journal %s: %w", j.f.Name(), err)
	}
	defer r.Close()
	// Open intents only: every finished change removes its own, so this
	// holds at most what a killed run had in flight.
	open := map[string]JournalEntry{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e JournalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Intent == "" {
			continue // a torn line, or a line from before intents
		}
		switch e.Event {
		case "intent":
			if _, dup := open[e.Intent]; !dup {
				order = append(order, e.Intent)
			}
			open[e.Intent] = e
		case "write":
		default:
			delete(open, e.Intent)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("journal %s: %w", j.f.Name(), err)
	}
	n := 0
	for _, id := range order {
		e, ok := open[id]
		if !ok {
			continue
		}
		delete(open, id)
		run := e.RunID
		e.Event = "interrupted"
		e.Error = "run " + run + " ended after announcing this change and before recording its outcome: its writes may be in place; this run reads the setting back"
		if err := j.Append(e); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// newIntent returns a journal-unique id for one change of this run.
func (j *Journal) newIntent() string {
	return fmt.Sprintf("%s-%d", j.runID, j.intents.Add(1))
}

// Append writes one entry and returns once it is durable on disk.
func (j *Journal) Append(e JournalEntry) error {
	j.mu.Lock()
	e.Time = j.now().UTC()
	e.RunID = j.runID
	e.Error = redact.String(e.Error)
	b, err := json.Marshal(e)
	if err != nil {
		j.mu.Unlock()
		return err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		j.mu.Unlock()
		return fmt.Errorf("journal %s: %w", j.f.Name(), err)
	}
	j.written++
	seq := j.written
	j.mu.Unlock()

	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= seq {
		return nil // a sync that began after our write already covered it
	}
	j.mu.Lock()
	upTo := j.written
	j.mu.Unlock()
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", j.f.Name(), err)
	}
	j.synced = upTo
	return nil
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.f.Name() }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// Fixer applies planned changes with bounded concurrency, journaling every write.
type Fixer struct {
	Journal     *Journal
	Concurrency int
	// Progress, when set, receives per-change progress (ACR tag loops).
	Progress func(c providers.Change, done, total int64)
	// OnResult, when set, is called after each change completes.
	OnResult func(ChangeRecord)
}

type observer struct {
	fx     *Fixer
	intent string
	err    error
	mu     sync.Mutex
}

func (o *observer) Write(c providers.Change, w providers.WriteRecord) {
	e := JournalEntry{Event: "write", Intent: o.intent, Provider: c.Provider, Kind: c.Kind, Scope: c.Scope,
		Repository: c.Repository, Target: w.Target, Call: w.Call, Before: w.Before, After: w.After, Error: w.Err}
	if w.Err != "" {
		e.Event = "failed"
	}
	if err := o.fx.Journal.Append(e); err != nil {
		o.mu.Lock()
		if o.err == nil {
			o.err = err
		}
		o.mu.Unlock()
	}
}

func (o *observer) Progress(c providers.Change, done, total int64) {
	if o.fx.Progress != nil {
		o.fx.Progress(c, done, total)
	}
}

// ErrJournal means a write could not be journaled; the fixer stops rather
// than change a registry without a record.
var ErrJournal = errors.New("journal write failed")

// Apply runs every change of plan with at most Concurrency at once and
// passes one record per change to emit (never concurrently). A change that
// fails is recorded and the others go on; a journal failure or cancellation
// stops the run, and every change not started is recorded "not-applied".
// Records of a plan small enough to be sorted come in plan order, others as
// they complete, so memory does not grow with the plan.
func (fx *Fixer) Apply(ctx context.Context, plan *Plan, emit func(ChangeRecord)) error {
	limit := fx.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	n := plan.Len()
	ordered := n <= planSortLimit
	var (
		emitMu sync.Mutex
		buf    []ChangeRecord
		filled []bool
	)
	if ordered {
		buf, filled = make([]ChangeRecord, n), make([]bool, n)
	}
	put := func(i int, r ChangeRecord) {
		emitMu.Lock()
		defer emitMu.Unlock()
		if ordered && i < n {
			buf[i], filled[i] = r, true
			return
		}
		emit(r)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	i := 0
	eachErr := plan.Each(func(pc PlannedChange) error {
		idx := i
		i++
		if gctx.Err() != nil {
			put(idx, notApplied(pc))
			return nil
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				put(idx, notApplied(pc))
				return gctx.Err()
			}
			rec, err := fx.ApplyOne(gctx, pc)
			put(idx, rec)
			return err
		})
		return nil
	})
	err := g.Wait()
	for k := range buf {
		if filled[k] {
			emit(buf[k])
		}
	}
	if err == nil && eachErr != nil {
		err = fmt.Errorf("read the plan: %w", eachErr)
	}
	return err
}

func notApplied(pc PlannedChange) ChangeRecord {
	r := RecordOf(pc, "not-applied")
	r.Error = "run stopped before this change"
	return r
}

// ApplyOne makes one change, journals its writes and the read-back, and
// returns its record. The error is only for what must stop a run: a journal
// write that failed (ErrJournal) or cancellation; a change that failed is a
// record with State "failed".
func (fx *Fixer) ApplyOne(ctx context.Context, pc PlannedChange) (ChangeRecord, error) {
	rec := RecordOf(pc, "applied")
	if pc.Change.HeldBack != "" {
		rec.State, rec.Error, rec.Writes = StateHeldBack, pc.Change.HeldBack, 0
		if fx.OnResult != nil {
			fx.OnResult(rec)
		}
		return rec, nil
	}
	if pc.Enforcer == nil {
		rec.State, rec.Error = "failed", "provider "+pc.Change.Provider+" cannot apply changes"
		return rec, nil
	}
	// Write-ahead: the intent is durable before the first write call, so
	// a run killed at any point leaves the journal a superset of what it
	// wrote (Recover completes the intent on the next run).
	intent := fx.Journal.newIntent()
	c := pc.Change
	if err := fx.Journal.Append(JournalEntry{Event: "intent", Intent: intent, Provider: c.Provider, Kind: c.Kind, Scope: c.Scope,
		Repository: c.Repository, Target: c.Target, Call: c.Action, Before: describe(c.From), After: describe(c.To)}); err != nil {
		rec.State, rec.Error = "not-applied", "journal unavailable: "+err.Error()
		return rec, fmt.Errorf("%w: %v", ErrJournal, err)
	}
	obs := &observer{fx: fx, intent: intent}
	res, err := pc.Enforcer.Apply(ctx, pc.Change, obs)
	rec.Writes = res.Writes
	switch {
	case err != nil && errors.Is(err, providers.ErrReadBack):
		// The write went through; only reading it back did not, also when an
		// interruption cut the read-back short. Calling it failed would
		// invite a retry of a write that is already made.
		rec.State, rec.Error = StateUnverified, redact.String(err.Error())
	case err != nil:
		rec.State, rec.Error = "failed", redact.String(err.Error())
	case !res.Verified:
		rec.State, rec.Error = "verify-failed", "the setting read back does not match what was written"
	default:
		rec.Verified = true
	}
	ev := JournalEntry{Event: "verified", Intent: intent, Provider: pc.Change.Provider, Kind: pc.Change.Kind, Scope: pc.Change.Scope,
		Repository: pc.Change.Repository, Target: pc.Change.Target, After: describe(res.After)}
	if !rec.Verified {
		ev.Event, ev.Error = rec.State, rec.Error
	}
	jerr := fx.Journal.Append(ev)
	if jerr == nil {
		jerr = obs.err
	}
	if fx.OnResult != nil {
		fx.OnResult(rec)
	}
	if jerr != nil {
		return rec, fmt.Errorf("%w: %v", ErrJournal, jerr)
	}
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return rec, err
	}
	return rec, nil
}

// RecordOf is the report record of a planned change in state.
func RecordOf(pc PlannedChange, state string) ChangeRecord {
	c := pc.Change
	return ChangeRecord{Provider: c.Provider, Kind: c.Kind, Scope: c.Scope, Repository: c.Repository,
		Target: c.Target, FindingID: pc.FindingID, From: c.From, To: c.To, Action: c.Action, Writes: c.Writes, State: state}
}

// EachRecord calls fn with the "planned" record of every change (dry run).
// A held-back change is recorded held-back with its reason.
func (p *Plan) EachRecord(fn func(ChangeRecord) error) error {
	return p.Each(func(pc PlannedChange) error {
		if pc.Change.HeldBack != "" {
			r := RecordOf(pc, StateHeldBack)
			r.Error, r.Writes = pc.Change.HeldBack, 0
			return fn(r)
		}
		return fn(RecordOf(pc, "planned"))
	})
}

// Change record states that are not self-explanatory.
const (
	// StateHeldBack: planned, never written, Error says why.
	StateHeldBack = "held-back"
	// StateUnverified: written, but the read-back could not be made; the
	// next run reads the setting again.
	StateUnverified = "unverified"
)

func describe(im providers.Immutability) string {
	s := string(im.Mode)
	if im.Native != "" {
		s += " (" + im.Native + ")"
	}
	return s
}
