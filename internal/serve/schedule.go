package serve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when scans are due.
type Schedule interface {
	// Next returns the first due time strictly after t, or the zero time
	// when the schedule never fires again.
	Next(t time.Time) time.Time
	// String describes the schedule for logs.
	String() string
}

// Every is a fixed interval schedule (--interval).
type Every time.Duration

// Next implements Schedule.
func (e Every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func (e Every) String() string { return "every " + time.Duration(e).String() }

type cronSchedule struct {
	expr string
	s    cron.Schedule
}

func (c cronSchedule) Next(t time.Time) time.Time { return c.s.Next(t) }
func (c cronSchedule) String() string             { return "cron " + c.expr }

// cronParser accepts the five standard fields, descriptors such as @daily
// and @every 2h, and a CRON_TZ= prefix; seconds are deliberately not
// accepted, a registry estate is not scanned more than once a minute.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a cron expression (--schedule). It is evaluated in the
// local time zone unless the expression starts with CRON_TZ=Zone.
func ParseCron(expr string) (Schedule, error) {
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	// robfig/cron gives up after five years and returns the zero time, for
	// instance for "0 0 30 2 *".
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("cron expression %q never fires", expr)
	}
	return cronSchedule{expr: expr, s: s}, nil
}

// MinGap returns the shortest distance between the next few firings after
// t, so callers can check that jitter stays below the schedule's period.
func MinGap(s Schedule, t time.Time, n int) time.Duration {
	var gap time.Duration
	prev := s.Next(t)
	for range n {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if d := next.Sub(prev); gap == 0 || d < gap {
			gap = d
		}
		prev = next
	}
	return gap
}

// Timer is a stoppable one-shot timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Clock is the scheduler's time source; tests inject a fake one so no test
// sleeps.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer implements Clock.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time { return s.t.C }
func (s sysTimer) Stop() bool          { return s.t.Stop() }

// maxSkipWalk bounds how many missed firings are walked one by one after a
// long scan; beyond it the schedule restarts from now.
const maxSkipWalk = 10000

// Scheduler runs Job at start and then whenever the schedule is due, plus a
// random jitter. Job runs on the scheduler's goroutine, so two runs never
// overlap: firings that fall due while a run is still going are skipped,
// not queued, so a slow scan never turns into back-to-back scans.
type Scheduler struct {
	Schedule Schedule
	// Jitter delays each scheduled run (not the first) by a uniform random
	// duration in [0, Jitter), so many instances do not hit an API at once.
	// The schedule itself does not drift: due times stay on the grid.
	Jitter time.Duration
	Clock  Clock
	// Rand returns a number in [0, 1); nil means math/rand/v2.
	Rand func() float64
	// Job runs one scan.
	Job func(ctx context.Context)
	// OnSkip is told how many due times passed while Job was running.
	OnSkip func(n int)
	// OnWait is told when the next run is due (jitter included); for logs.
	OnWait func(at time.Time)
}

// ErrScheduleEnded means the schedule will never fire again.
var ErrScheduleEnded = errors.New("schedule has no further run time")

// Run runs the first job at once, then follows the schedule until ctx ends.
// It returns nil when ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	clk := s.Clock
	if clk == nil {
		clk = SystemClock{}
	}
	due := clk.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		s.Job(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := clk.Now()
		next, skipped := s.nextAfter(due, now)
		if next.IsZero() {
			return ErrScheduleEnded
		}
		if skipped > 0 && s.OnSkip != nil {
			s.OnSkip(skipped)
		}
		due = next
		wait := next.Sub(now) + s.jitter()
		if s.OnWait != nil {
			s.OnWait(now.Add(wait))
		}
		t := clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}

// nextAfter returns the first due time after the previous one that is
// still in the future, and how many were missed on the way.
func (s *Scheduler) nextAfter(prev, now time.Time) (time.Time, int) {
	next := s.Schedule.Next(prev)
	skipped := 0
	for !next.IsZero() && !next.After(now) {
		skipped++
		if skipped >= maxSkipWalk {
			return s.Schedule.Next(now), skipped
		}
		next = s.Schedule.Next(next)
	}
	return next, skipped
}

func (s *Scheduler) jitter() time.Duration {
	if s.Jitter <= 0 {
		return 0
	}
	r := rand.Float64
	if s.Rand != nil {
		r = s.Rand
	}
	f := r()
	if f < 0 || f >= 1 {
		f = 0
	}
	return time.Duration(f * float64(s.Jitter))
}
