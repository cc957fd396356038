package httpapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
)

// TestLimiter: no limiter without a rate; the burst follows the rate
// (rounded up) unless fixed; max_concurrent slots are held until released;
// a cancelled wait for a slot or a token fails with the context's error.
func TestLimiter(t *testing.T) {
	if NewLimiter(config.Rate{}, 0) != nil {
		t.Fatal("a zero rate makes a limiter")
	}
	var none *Limiter
	if rel, err := none.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
	for _, c := range []struct {
		rps         float64
		fixed, want int
	}{{0.5, 0, 1}, {2.5, 0, 3}, {10, 0, 10}, {33.3, 1, 1}} {
		l := NewLimiter(config.Rate{RequestsPerSecond: c.rps}, c.fixed)
		if l.Rate() != c.rps || l.rl.Burst() != c.want {
			t.Errorf("rate %v burst %d: got rate %v burst %d", c.rps, c.fixed, l.Rate(), l.rl.Burst())
		}
		l.SetRate(c.rps * 2)
		want := c.want
		if c.fixed == 0 {
			want = max(1, int(c.rps*2+0.999999))
		}
		if l.Rate() != c.rps*2 || l.rl.Burst() != want {
			t.Errorf("SetRate(%v): rate %v burst %d, want burst %d", c.rps*2, l.Rate(), l.rl.Burst(), want)
		}
	}

	l := NewLimiter(config.Rate{MaxConcurrent: 2}, 0)
	r1, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("third slot with a cancelled context: %v", err)
	}
	r1()
	r3, err := l.Acquire(t.Context())
	if err != nil {
		t.Fatalf("slot after a release: %v", err)
	}
	r2()
	r3()

	// One token per 100 s, burst 1: the second token is far beyond this
	// context's deadline, which the wait sees at once.
	slow := NewLimiter(config.Rate{RequestsPerSecond: 0.01}, 0)
	if err := slow.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer dcancel()
	if _, err := slow.Acquire(dctx); err == nil {
		t.Fatal("a token beyond the deadline was granted")
	}
}
