package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestLeanGCWhileRecording: recording lowers the collector's target while
// any recording scan runs and restores it after the last one; a GOGC the
// user set is never overridden.
func TestLeanGCWhileRecording(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Run("default", func(t *testing.T) {
		t.Setenv("GOGC", "") // restored after the test; unset for it
		os.Unsetenv("GOGC")
		outer := leanGCWhileRecording()
		if got := gcPercent(); got != recordingGCPercent {
			t.Fatalf("while recording: GC percent %d, want %d", got, recordingGCPercent)
		}
		inner := leanGCWhileRecording() // a second scan overlapping the first
		inner()
		if got := gcPercent(); got != recordingGCPercent {
			t.Fatalf("after the inner scan, with the outer still running: GC percent %d, want %d", got, recordingGCPercent)
		}
		outer()
		if got := gcPercent(); got != 100 {
			t.Fatalf("after the last scan: GC percent %d, want 100 restored", got)
		}
	})
	t.Run("GOGC set", func(t *testing.T) {
		t.Setenv("GOGC", "200")
		debug.SetGCPercent(200)
		defer debug.SetGCPercent(100)
		restore := leanGCWhileRecording()
		if got := gcPercent(); got != 200 {
			t.Fatalf("GOGC=200 was overridden: GC percent %d", got)
		}
		restore()
		if got := gcPercent(); got != 200 {
			t.Fatalf("GOGC=200 changed on restore: GC percent %d", got)
		}
	})
}
