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
// It returns one record per change, in input order.
func (s *Service) enforce(soft, hard context.Context, changes []audit.PlannedChange, runID string) []audit.ChangeRecord {
	out := make([]audit.ChangeRecord, len(changes))
	if len(changes) == 0 {
		return out
	}
	j, err := audit.OpenJournal(s.opts.Journal, runID, s.opts.Now)
	if err != nil {
		s.log.Error("enforce: no journal, nothing changed", "error", err)
		for i, rec := range audit.PlanRecords(changes) {
			rec.State, rec.Error = "not-applied", "journal unavailable: "+err.Error()
			out[i] = rec
		}
		return out
	}
	defer j.Close()
	fx := &audit.Fixer{Journal: j, Concurrency: 1, OnResult: s.metrics.fixResult}

	var (
		wg      sync.WaitGroup
		stopped atomic.Bool // a journal write failed: change nothing more
		next    = make(chan int)
	)
	for range min(s.opts.Concurrency, len(changes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// select may hand out a change although soft has just
				// ended; it is not started either.
				if soft.Err() != nil || stopped.Load() {
					continue
				}
				recs, err := fx.Apply(hard, changes[i:i+1])
				out[i] = recs[0]
				if errors.Is(err, audit.ErrJournal) {
					s.log.Error("enforce: journal write failed, stopping", "journal", j.Path(), "error", err)
					stopped.Store(true)
				}
			}
		}()
	}
feed:
	for i := range changes {
		if stopped.Load() || soft.Err() != nil {
			break
		}
		select {
		case next <- i:
		case <-soft.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	applied, failed, skipped := 0, 0, 0
	for i := range out {
		switch {
		case out[i].State == "":
			out[i] = audit.PlanRecords(changes[i : i+1])[0]
			out[i].State, out[i].Error = "not-applied", "not started: the service was stopping"
			s.metrics.fixResult(out[i])
			skipped++
		case out[i].Verified:
			applied++
		default:
			failed++
		}
	}
	level := s.log.Info
	if failed > 0 || skipped > 0 {
		level = s.log.Warn
	}
	level("enforcement pass", "run_id", runID, "changes", len(changes), "verified", applied, "failed", failed,
		"not_started", skipped, "journal", j.Path())
	return out
}
