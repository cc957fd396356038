package audit

import (
	"container/heap"
	"iter"
	"slices"
)

// SortRun is how many items SortSpool sorts in memory at a time.
const SortRun = 20000

// collectRun is the run length of the engine's findings Sorter: small, since
// it is held while scopes are listed, when the adapters' own buffers are
// live too. The merge costs the same whatever the number of runs.
const collectRun = 4096

// SortSpool returns a new spool holding every item feed adds, in cmp order
// (stable for equal items in the order they were added). Runs of at most
// runLen items are sorted in memory and spooled, then merged, so memory is
// bounded by runLen however many items there are. The caller closes the
// result.
func SortSpool[T any](cmp func(a, b T) int, runLen int, feed func(add func(T) error) error) (*Spool[T], error) {
	s := NewSorter(cmp, runLen)
	if err := feed(s.Add); err != nil {
		s.Close()
		return nil, err
	}
	return s.Finish()
}

// Sorter sorts items added one at a time, in any order, the way SortSpool
// does, but as they arrive: each run is sorted and spooled when it fills,
// so a caller that adds while other work runs (the audit engine, while
// scopes are listed) is left with only the merge when the last item is in.
type Sorter[T any] struct {
	cmp    func(a, b T) int
	runLen int
	buf    []T
	runs   []*Spool[T]
	err    error
}

// NewSorter returns a Sorter with runs of at most runLen items (SortRun if
// runLen < 1).
func NewSorter[T any](cmp func(a, b T) int, runLen int) *Sorter[T] {
	if runLen < 1 {
		runLen = SortRun
	}
	return &Sorter[T]{cmp: cmp, runLen: runLen, buf: make([]T, 0, min(runLen, 1024))}
}

// Add adds v. After an error every later call returns it.
func (s *Sorter[T]) Add(v T) error {
	if s.err != nil {
		return s.err
	}
	s.buf = append(s.buf, v)
	if len(s.buf) >= s.runLen {
		s.err = s.flush()
	}
	return s.err
}

func (s *Sorter[T]) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	slices.SortStableFunc(s.buf, s.cmp)
	r := NewSpool[T]()
	for _, v := range s.buf {
		if err := r.Add(v); err != nil {
			r.Close()
			return err
		}
	}
	s.runs = append(s.runs, r)
	clear(s.buf)
	s.buf = s.buf[:0]
	return nil
}

// Finish returns every item added, in order, in a new spool the caller
// closes. The Sorter is spent.
func (s *Sorter[T]) Finish() (*Spool[T], error) {
	defer s.Close()
	if s.err != nil {
		return nil, s.err
	}
	out := NewSpool[T]()
	var err error
	if len(s.runs) == 0 {
		// Everything fits in one run: sorted in memory, spooled once.
		slices.SortStableFunc(s.buf, s.cmp)
		for _, v := range s.buf {
			if err = out.Add(v); err != nil {
				break
			}
		}
	} else if err = s.flush(); err == nil {
		err = mergeRuns(s.runs, s.cmp, out.Add)
	}
	if err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

// Close drops the runs and the buffer (Finish does it too).
func (s *Sorter[T]) Close() {
	for _, r := range s.runs {
		r.Close()
	}
	s.runs, s.buf = nil, nil
}

// mergeRuns calls fn with the items of sorted runs in cmp order; ties go to
// the earlier run, which keeps the sort stable.
func mergeRuns[T any](runs []*Spool[T], cmp func(a, b T) int, fn func(T) error) error {
	h := &runHeap[T]{cmp: cmp}
	var errs []func() error
	defer func() {
		for _, e := range h.items {
			e.stop()
		}
	}()
	for i, r := range runs {
		var runErr error
		seq := func(yield func(T) bool) {
			runErr = r.Each(func(v T) error {
				if !yield(v) {
					return errStopRun
				}
				return nil
			})
		}
		next, stop := iter.Pull(iter.Seq[T](seq))
		errs = append(errs, func() error {
			if runErr == errStopRun {
				return nil
			}
			return runErr
		})
		if v, ok := next(); ok {
			heap.Push(h, &runHead[T]{v: v, run: i, next: next, stop: stop})
		} else {
			stop()
		}
	}
	for h.Len() > 0 {
		top := h.items[0]
		if err := fn(top.v); err != nil {
			return err
		}
		if v, ok := top.next(); ok {
			top.v = v
			heap.Fix(h, 0)
		} else {
			top.stop()
			heap.Pop(h)
		}
	}
	for _, e := range errs {
		if err := e(); err != nil {
			return err
		}
	}
	return nil
}

type stopRun struct{}

func (stopRun) Error() string { return "stop" }

var errStopRun error = stopRun{}

type runHead[T any] struct {
	v    T
	run  int
	next func() (T, bool)
	stop func()
}

type runHeap[T any] struct {
	items []*runHead[T]
	cmp   func(a, b T) int
}

func (h *runHeap[T]) Len() int { return len(h.items) }
func (h *runHeap[T]) Less(i, j int) bool {
	if c := h.cmp(h.items[i].v, h.items[j].v); c != 0 {
		return c < 0
	}
	return h.items[i].run < h.items[j].run
}
func (h *runHeap[T]) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *runHeap[T]) Push(x any)    { h.items = append(h.items, x.(*runHead[T])) }
func (h *runHeap[T]) Pop() any {
	old := h.items
	n := len(old)
	x := old[n-1]
	h.items = old[:n-1]
	return x
}
