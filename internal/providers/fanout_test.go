package providers

import (
	"context"
	"errors"
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
	if sent.Load() > 10 {
		t.Fatalf("producer kept going: %d items sent", sent.Load())
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
