package audit

import (
	"container/heap"
	"iter"
	"slices"
)

// SortRun is how many items SortSpool sorts in memory at a time.
const SortRun = 20000

// SortSpool returns a new spool holding every item feed adds, in cmp order
// (stable for equal items in the order they were added). Runs of at most
// runLen items are sorted in memory and spooled, then merged, so memory is
// bounded by runLen however many items there are. The caller closes the
// result.
func SortSpool[T any](cmp func(a, b T) int, runLen int, feed func(add func(T) error) error) (*Spool[T], error) {
	if runLen < 1 {
		runLen = SortRun
	}
	var runs []*Spool[T]
	closeRuns := func() {
		for _, r := range runs {
			r.Close()
		}
	}
	buf := make([]T, 0, min(runLen, 1024))
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		slices.SortStableFunc(buf, cmp)
		r := NewSpool[T]()
		for _, v := range buf {
			if err := r.Add(v); err != nil {
				r.Close()
				return err
			}
		}
		runs = append(runs, r)
		clear(buf)
		buf = buf[:0]
		return nil
	}
	err := feed(func(v T) error {
		buf = append(buf, v)
		if len(buf) >= runLen {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		closeRuns()
		return nil, err
	}
	defer closeRuns()
	out := NewSpool[T]()
	if len(runs) == 1 {
		err = runs[0].Each(out.Add)
	} else {
		err = mergeRuns(runs, cmp, out.Add)
	}
	if err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
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
