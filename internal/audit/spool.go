package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
)

// Spool is an append-only sequence kept in a temporary file as JSON lines,
// so a report over tens of thousands of repositories does not hold them all
// in memory. It keeps arrival order.
type Spool[T any] struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	n   int
	mem []T // used when no temporary file can be created
}

// NewSpool creates an empty spool.
func NewSpool[T any]() *Spool[T] {
	s := &Spool[T]{}
	if f, err := os.CreateTemp("", "immutag-spool-*.jsonl"); err == nil {
		// Unlinked at once: the data lives only as long as the handle.
		_ = os.Remove(f.Name())
		s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	return s
}

// SpoolOf builds a spool holding items (tests, re-rendering).
func SpoolOf[T any](items ...T) *Spool[T] {
	s := NewSpool[T]()
	for _, it := range items {
		_ = s.Add(it)
	}
	return s
}

// Add appends one item.
func (s *Spool[T]) Add(v T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.f == nil {
		s.mem = append(s.mem, v)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = s.w.Write(b)
	return err
}

// Len is the number of items added.
func (s *Spool[T]) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Each calls fn for every item in arrival order. fn must not call other
// methods of the same spool: the spool stays locked while Each runs.
func (s *Spool[T]) Each(fn func(T) error) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		for _, v := range s.mem {
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	r := io.NewSectionReader(s.f, 0, 1<<62)
	dec := json.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	for i := 0; i < s.n; i++ {
		var v T
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("read spool item %d: %w", i, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// EachJSON calls fn with every item's JSON encoding (json.Marshal's), in
// arrival order, without decoding and encoding it again: a renderer that
// writes JSON copies the spooled line. b is only valid during the call.
func (s *Spool[T]) EachJSON(fn func(b []byte) error) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		for _, v := range s.mem {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	br := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, 1<<62), 64<<10)
	var line []byte
	for i := 0; i < s.n; i++ {
		line = line[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			line = append(line, chunk...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				return fmt.Errorf("read spool item %d: %w", i, err)
			}
			break
		}
		if err := fn(line[:len(line)-1]); err != nil {
			return err
		}
	}
	return nil
}

// EachSorted calls fn for every item in cmp order when there are at most
// limit of them, else in arrival order: sorting needs them all in memory,
// which only a bounded number may be.
func (s *Spool[T]) EachSorted(limit int, cmp func(a, b T) int, fn func(T) error) error {
	if s.Len() > limit {
		return s.Each(fn)
	}
	all := s.All()
	slices.SortStableFunc(all, cmp)
	for _, v := range all {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// All returns every item (small reports and tests only).
func (s *Spool[T]) All() []T {
	var out []T
	_ = s.Each(func(v T) error { out = append(out, v); return nil })
	return out
}

// MarshalJSON streams nothing special; renderers that care about memory use
// Each directly. This keeps json.Marshal(report) working for small reports.
func (s *Spool[T]) MarshalJSON() ([]byte, error) {
	all := s.All()
	if all == nil {
		all = []T{}
	}
	return json.Marshal(all)
}

// UnmarshalJSON reads a JSON array into the spool.
func (s *Spool[T]) UnmarshalJSON(b []byte) error {
	var items []T
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	*s = Spool[T]{}
	ns := NewSpool[T]()
	for _, it := range items {
		if err := ns.Add(it); err != nil {
			return err
		}
	}
	s.f, s.w, s.n, s.mem = ns.f, ns.w, ns.n, ns.mem
	return nil
}

// Close removes the backing file.
func (s *Spool[T]) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.w = nil, nil
	return err
}
