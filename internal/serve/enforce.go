package serve

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/immutag/immutag/internal/audit"
)

// enforce applies planned changes the way `fix --apply --yes` does (same
// Fixer, journal and read-back), with one difference for shutdown: changes
// are handed out one at a time, so once soft ends no further change starts,
// while those already running continue under hard and finish their writes.
// It passes one record per change to emit (never concurrently), as changes
// complete; the plan is read from its spool, so memory does not grow with it.
func (s *Service) enforce(soft, hard context.Context, plan *audit.Plan, runID string, emit func(audit.ChangeRecord)) {
	total := plan.Len()
	if total == 0 {
		return
	}
	lock, err := s.lockJournal()
	if err != nil {
		s.log.Error("enforce: journal locked, nothing changed", "error", err)
		_ = plan.EachRecord(func(rec audit.ChangeRecord) error {
			rec.State, rec.Error = "not-applied", err.Error()
			emit(rec)
			return nil
		})
		return
	}
	defer lock.Unlock()
	j, err := audit.OpenJournal(s.opts.Journal, runID, s.opts.Now)
	if err != nil {
		s.log.Error("enforce: no journal, nothing changed", "error", err)
		_ = plan.EachRecord(func(rec audit.ChangeRecord) error {
			rec.State, rec.Error = "not-applied", "journal unavailable: "+err.Error()
			emit(rec)
			return nil
		})
		return
	}
	defer j.Close()
	fx := &audit.Fixer{Journal: j, Concurrency: 1, OnResult: s.metrics.fixResult}

	var (
		mu                       sync.Mutex
		applied, failed, skipped int
		wg                       sync.WaitGroup
		stopped                  atomic.Bool // a journal write failed: change nothing more
		next                     = make(chan audit.PlannedChange)
	)
	put := func(rec audit.ChangeRecord) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case rec.State == "not-applied":
			skipped++
		case rec.Verified:
			applied++
		default:
			failed++
		}
		emit(rec)
	}
	notStarted := func(pc audit.PlannedChange) {
		rec := audit.RecordOf(pc, "not-applied")
		rec.Error = "not started: the service was stopping"
		s.metrics.fixResult(rec)
		put(rec)
	}
	for range min(s.opts.Concurrency, total) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pc := range next {
				// select may hand out a change although soft has just
				// ended; it is not started either.
				if soft.Err() != nil || stopped.Load() {
					notStarted(pc)
					continue
				}
				if !s.leads() {
					// Leadership can end mid-pass: the new leader's
					// next scan plans this change again.
					rec := audit.RecordOf(pc, "not-applied")
					rec.Error = "not started: this replica is no longer the leader"
					s.metrics.fixResult(rec)
					put(rec)
					continue
				}
				rec, err := fx.ApplyOne(hard, pc)
				put(rec)
				if errors.Is(err, audit.ErrJournal) {
					s.log.Error("enforce: journal write failed, stopping", "journal", j.Path(), "error", err)
					stopped.Store(true)
				}
			}
		}()
	}
	eachErr := plan.Each(func(pc audit.PlannedChange) error {
		if stopped.Load() || soft.Err() != nil {
			notStarted(pc)
			return nil
		}
		select {
		case next <- pc:
		case <-soft.Done():
			notStarted(pc)
		}
		return nil
	})
	close(next)
	wg.Wait()
	if eachErr != nil {
		s.log.Error("enforce: cannot read the plan", "error", eachErr)
	}

	level := s.log.Info
	if failed > 0 || skipped > 0 || eachErr != nil {
		level = s.log.Warn
	}
	level("enforcement pass", "run_id", runID, "changes", total, "verified", applied, "failed", failed,
		"not_started", skipped, "journal", j.Path())
}

// lockJournal takes the journal's lock (see audit.LockJournal) for one
// enforcement or webhook batch, and the first time completes what an
// interrupted run left open in the journal.
func (s *Service) lockJournal() (*audit.JournalLock, error) {
	lock, err := audit.LockJournal(s.opts.Journal, s.opts.Now)
	if err != nil {
		return nil, err
	}
	s.recoverOnce.Do(func() {
		j, err := audit.OpenJournal(s.opts.Journal, "serve-"+s.id+"-recover", s.opts.Now)
		if err != nil {
			s.log.Error("journal: cannot check for interrupted changes", "error", err)
			return
		}
		defer j.Close()
		if n, err := j.Recover(); err != nil {
			s.log.Error("journal: cannot check for interrupted changes", "error", err)
		} else if n > 0 {
			s.log.Warn("journal: changes of an interrupted run had no outcome; recorded as interrupted", "changes", n, "journal", s.opts.Journal)
		}
	})
	return lock, nil
}
