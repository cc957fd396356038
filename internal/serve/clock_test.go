package serve

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual clock: time moves only with Advance, and every
// timer created is announced on Timers so a test knows the scheduler is
// waiting (no sleeps, no polling).
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// Timers receives the duration of every timer created.
	Timers chan time.Duration
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{now: t, Timers: make(chan time.Duration, 100)}
}

type fakeTimer struct {
	c       chan time.Time
	at      time.Time
	stopped bool
	fired   bool
	clk     *fakeClock
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.now.Add(d), clk: c}
	if d <= 0 {
		t.fired = true
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	c.mu.Unlock()
	c.Timers <- d
	return t
}

// Advance moves time forward and fires the timers that fell due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.stopped {
			continue
		}
		if !t.at.After(c.now) {
			t.fired = true
			t.c <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// pending is the number of live timers.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// waitTimer returns the duration of the next timer the scheduler creates.
func waitTimer(t *testing.T, c *fakeClock) time.Duration {
	t.Helper()
	select {
	case d := <-c.Timers:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler created no timer")
		return 0
	}
}
