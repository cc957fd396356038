package serve

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// harness runs a Scheduler on a fake clock; each job reports its start
// time on started and returns when the test sends on release (or at once
// when release is nil).
type harness struct {
	clk     *fakeClock
	started chan time.Time
	release chan func()
	running atomic.Int32
	overlap atomic.Bool
	skipped atomic.Int64
	done    chan error
	cancel  context.CancelFunc
}

func startScheduler(t *testing.T, s *Scheduler, start time.Time, blocking bool) *harness {
	t.Helper()
	h := &harness{clk: newFakeClock(start), started: make(chan time.Time, 100), done: make(chan error, 1)}
	if blocking {
		h.release = make(chan func())
	}
	s.Clock = h.clk
	s.Job = func(ctx context.Context) {
		if h.running.Add(1) > 1 {
			h.overlap.Store(true)
		}
		defer h.running.Add(-1)
		h.started <- h.clk.Now()
		if h.release != nil {
			select {
			case fn := <-h.release:
				fn()
			case <-ctx.Done():
			}
		}
	}
	s.OnSkip = func(n int) { h.skipped.Add(int64(n)) }
	ctx, cancel := context.WithCancel(t.Context())
	h.cancel = cancel
	go func() { h.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("scheduler did not stop")
		}
	})
	return h
}

func (h *harness) job(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-h.started:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no job started")
		return time.Time{}
	}
}

func TestSchedulerInterval(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 7, 30, 0, time.UTC)
	h := startScheduler(t, &Scheduler{Schedule: Every(time.Hour)}, start, false)
	if got := h.job(t); !got.Equal(start) {
		t.Fatalf("first scan at %v, want at start %v", got, start)
	}
	for i := 1; i <= 3; i++ {
		if d := waitTimer(t, h.clk); d != time.Hour {
			t.Fatalf("run %d: waits %v, want 1h", i, d)
		}
		// Nothing runs before the interval is over.
		h.clk.Advance(time.Hour - time.Second)
		select {
		case at := <-h.started:
			t.Fatalf("run %d started early at %v", i, at)
		default:
		}
		h.clk.Advance(time.Second)
		if got, want := h.job(t), start.Add(time.Duration(i)*time.Hour); !got.Equal(want) {
			t.Fatalf("run %d at %v, want %v", i, got, want)
		}
	}
}

func TestSchedulerCron(t *testing.T) {
	s, err := ParseCron("*/15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 10, 7, 0, 0, time.UTC)
	h := startScheduler(t, &Scheduler{Schedule: s}, start, false)
	if got := h.job(t); !got.Equal(start) {
		t.Fatalf("first scan at %v, want at start", got)
	}
	want := []time.Time{
		time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 10, 45, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC),
	}
	for i, w := range want {
		d := waitTimer(t, h.clk)
		if got := h.clk.Now().Add(d); !got.Equal(w) {
			t.Fatalf("run %d due at %v, want %v", i+1, got, w)
		}
		h.clk.Advance(d)
		if got := h.job(t); !got.Equal(w) {
			t.Fatalf("run %d at %v, want %v", i+1, got, w)
		}
	}
}

func TestParseCron(t *testing.T) {
	for _, ok := range []string{"0 3 * * *", "@daily", "@every 6h", "CRON_TZ=Europe/Berlin 0 2 * * 1-5", "*/5 * * * *"} {
		if _, err := ParseCron(ok); err != nil {
			t.Errorf("ParseCron(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "* * * *", "0 0 3 * * *", "61 * * * *", "0 0 30 2 *", "@fortnightly"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("ParseCron(%q) accepted", bad)
		}
	}
	// A daily cron in another zone fires at that zone's hour.
	s, err := ParseCron("CRON_TZ=America/New_York 0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := s.Next(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("next %v, want %v (03:00 EDT)", next.UTC(), want)
	}
	if g := MinGap(s, time.Now(), 10); g < 23*time.Hour || g > 25*time.Hour {
		t.Fatalf("MinGap of a daily schedule = %v", g)
	}
}

// A scan longer than the interval delays the next one instead of starting
// a second scan; the due times it overran are skipped and counted.
func TestSchedulerNoOverlap(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	h := startScheduler(t, &Scheduler{Schedule: Every(time.Hour)}, start, true)
	h.job(t)
	// The scan runs for 2.5h; no timer exists meanwhile, so nothing can start.
	h.release <- func() {
		h.clk.Advance(150 * time.Minute)
		if n := h.clk.pending(); n != 0 {
			t.Errorf("%d timers pending while a scan runs", n)
		}
	}
	d := waitTimer(t, h.clk)
	if d != 30*time.Minute {
		t.Fatalf("after a 2.5h scan the next waits %v, want 30m (next slot 13:00)", d)
	}
	if n := h.skipped.Load(); n != 2 {
		t.Fatalf("skipped %d runs, want 2 (11:00 and 12:00)", n)
	}
	h.clk.Advance(d)
	if got := h.job(t); !got.Equal(start.Add(3 * time.Hour)) {
		t.Fatalf("second scan at %v, want 13:00", got)
	}
	h.release <- func() {}
	if h.overlap.Load() {
		t.Fatal("two scans ran at once")
	}
}

func TestSchedulerStopsWhileScanning(t *testing.T) {
	h := startScheduler(t, &Scheduler{Schedule: Every(time.Minute)}, time.Unix(0, 0), true)
	h.job(t)
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	h.done <- nil // for the cleanup
}

func TestSchedulerJitterBounds(t *testing.T) {
	const interval, jitter = time.Hour, 10 * time.Minute
	// Extremes first, then a seeded random sequence.
	draws := []float64{0, 0.999999999, 0.5}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		draws = append(draws, rng.Float64())
	}
	var i atomic.Int64
	s := &Scheduler{Schedule: Every(interval), Jitter: jitter, Rand: func() float64 { return draws[int(i.Add(1)-1)%len(draws)] }}
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	h := startScheduler(t, s, start, false)
	if got := h.job(t); !got.Equal(start) {
		t.Fatal("the first scan must not be jittered")
	}
	var minExtra, maxExtra time.Duration = jitter, 0
	for k := 1; k <= len(draws); k++ {
		d := waitTimer(t, h.clk)
		h.clk.Advance(d)
		at := h.job(t)
		// Due times stay on the grid: jitter never accumulates.
		extra := at.Sub(start.Add(time.Duration(k) * interval))
		if extra < 0 || extra >= jitter {
			t.Fatalf("run %d is %v after its due time, want within [0, %v)", k, extra, jitter)
		}
		if want := time.Duration(draws[k-1] * float64(jitter)); extra != want {
			t.Fatalf("run %d jitter %v, want %v from draw %v", k, extra, want, draws[k-1])
		}
		minExtra, maxExtra = min(minExtra, extra), max(maxExtra, extra)
	}
	if minExtra != 0 || maxExtra < jitter-time.Second {
		t.Fatalf("jitter range [%v, %v] does not span [0, %v)", minExtra, maxExtra, jitter)
	}
}

func TestSchedulerJitterDefaultRandInBounds(t *testing.T) {
	s := &Scheduler{Jitter: time.Minute}
	for range 1000 {
		if d := s.jitter(); d < 0 || d >= time.Minute {
			t.Fatalf("jitter %v out of [0, 1m)", d)
		}
	}
	s.Jitter = 0
	if d := s.jitter(); d != 0 {
		t.Fatalf("no jitter configured, got %v", d)
	}
}
