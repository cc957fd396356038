package testutil

import (
	"net/http"
	"sync"
	"time"
)

// Flight watches an adapter's calls as they pass (from a RoundTripper or an
// http.Handler wrapper): reads and listing pages in flight, the most reads
// ever in flight together, and whether a listing page was fetched while a
// read was in flight (no page barrier).
type Flight struct {
	// Hold, when set, keeps each read of the first wave waiting until that
	// many reads are in flight (or a second passes), so that reaching the
	// bound does not depend on how fast the machine schedules goroutines.
	Hold int
	// Classify says whether a request is a listing page or a read.
	Classify func(*http.Request) (list, read bool)

	once         sync.Once
	mu           sync.Mutex
	reads, lists int
	stats        FlightStats
	held         bool
	full         chan struct{}
}

// FlightStats is what a Flight saw.
type FlightStats struct {
	MaxReads, ReadCalls, ListCalls int
	// Overlap is true when a listing page and a read were in flight together.
	Overlap bool
	// GaveUp is true when Hold was never reached within a second.
	GaveUp bool
}

// Around counts r while next runs.
func (f *Flight) Around(r *http.Request, next func()) {
	f.once.Do(func() { f.full = make(chan struct{}) })
	list, read := f.Classify(r)
	f.mu.Lock()
	switch {
	case list:
		f.lists++
		f.stats.ListCalls++
		f.stats.Overlap = f.stats.Overlap || f.reads > 0
	case read:
		f.reads++
		f.stats.ReadCalls++
		f.stats.MaxReads = max(f.stats.MaxReads, f.reads)
		f.stats.Overlap = f.stats.Overlap || f.lists > 0
	}
	wait := read && f.Hold > 0 && !f.held && !f.stats.GaveUp
	if wait && f.reads >= f.Hold {
		f.held, wait = true, false
		close(f.full)
	}
	f.mu.Unlock()
	if wait {
		select {
		case <-f.full:
		case <-time.After(time.Second):
			f.mu.Lock()
			f.stats.GaveUp = true
			f.mu.Unlock()
		case <-r.Context().Done():
		}
	}
	next()
	f.mu.Lock()
	switch {
	case list:
		f.lists--
	case read:
		f.reads--
	}
	f.mu.Unlock()
}

// Stats returns what was seen so far.
func (f *Flight) Stats() FlightStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Counts returns the reads and listing pages seen so far.
func (f *Flight) Counts() (reads, lists int) {
	s := f.Stats()
	return s.ReadCalls, s.ListCalls
}
