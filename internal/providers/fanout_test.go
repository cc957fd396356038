package providers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestFanOutBoundsWorkersAndKeepsHandedOverItems(t *testing.T) {
	var inFlight, peak atomic.Int64
	var mu sync.Mutex
	seen := map[int]bool{}
	listErr := errors.New("page 3: denied")
	err := FanOut(t.Context(), 3, func(ctx context.Context, send func(int) error) error {
		for i := range 20 {
			if err := send(i); err != nil {
				return err
			}
		}
		return listErr
	}, func(ctx context.Context, i int) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		seen[i] = true
		mu.Unlock()
		return nil
	})
	if !errors.Is(err, listErr) {
		t.Fatalf("err = %v, want the listing error", err)
	}
	if len(seen) != 20 {
		t.Fatalf("processed %d of 20 items handed over before the listing failed", len(seen))
	}
	if peak.Load() > 3 {
		t.Fatalf("%d workers at once, limit 3", peak.Load())
	}
}

func TestFanOutWorkErrorStopsProducer(t *testing.T) {
	boom := errors.New("emitter refused")
	var sent atomic.Int64
	err := FanOut(t.Context(), 2, func(ctx context.Context, send func(int) error) error {
		for i := 0; ; i++ {
			if err := send(i); err != nil {
				return err
			}
			sent.Add(1)
		}
	}, func(ctx context.Context, i int) error {
		switch {
		case i == 5:
			return boom
		case i > 5: // a slow read, still running when the error comes
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the work error", err)
	}
	// Items 0-5, the slow read in flight on the other worker, and at most
	// the queue: never an endless listing.
	if limit := int64(6 + 2 + Ahead(2)); sent.Load() > limit {
		t.Fatalf("producer kept going: %d items sent, limit %d", sent.Load(), limit)
	}
}

func TestFanOutCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := FanOut(ctx, 2, func(ctx context.Context, send func(int) error) error { return send(1) },
		func(context.Context, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestFanOutProducerRunsAhead: while every worker is busy, the producer can
// still hand over Ahead(n) items, so it fetches the next page (and ACR its
// token) while work is queued instead of after the workers took the last
// item. It can never get further ahead than that queue.
func TestFanOutProducerRunsAhead(t *testing.T) {
	const n = 2
	release := make(chan struct{})
	var sent atomic.Int64
	reached := make(chan struct{})
	total := n + Ahead(n) + 5
	done := make(chan error, 1)
	go func() {
		done <- FanOut(t.Context(), n, func(ctx context.Context, send func(int) error) error {
			for i := range total {
				if err := send(i); err != nil {
					return err
				}
				if sent.Add(1) == int64(n+Ahead(n)) {
					close(reached)
				}
			}
			return nil
		}, func(ctx context.Context, i int) error {
			<-release
			return nil
		})
	}()
	// Workers block until released: the producer must still get n+Ahead(n)
	// items out (n taken by the workers, the rest queued).
	<-reached
	if got := sent.Load(); got > int64(n+Ahead(n)+1) {
		t.Fatalf("producer handed over %d items with %d workers blocked: the queue is unbounded", got, n)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sent.Load() != int64(total) {
		t.Fatalf("sent %d of %d", sent.Load(), total)
	}
}

type wantsEven struct{ Emitter }

func (wantsEven) Wants(name string) bool { return len(name)%2 == 0 }

// TestSendWantedQueuesOnlyWantedNames: a sharded run's FanOut queue holds
// only its own repositories; a run without shards hands over every name.
func TestSendWantedQueuesOnlyWantedNames(t *testing.T) {
	var got []string
	send := func(n string) error { got = append(got, n); return nil }
	for _, n := range []string{"ab", "abc", "abcd", ""} {
		if err := SendWanted(wantsEven{}, send)(n); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, ",") != "ab,abcd," {
		t.Errorf("sharded run handed over %q, want ab, abcd and the empty name", got)
	}
	got = nil
	_ = SendWanted(nil, send)("abc")
	if len(got) != 1 {
		t.Errorf("an emitter without shards got %q, want every name", got)
	}
}
