package bench

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// lockWritesPerMinute is the write limit of the lock-loop benchmark, set on
// the emulator and given to immutag as rate.requests_per_second. Real SKUs
// allow 100 (Basic) to 2,000 (Premium) writes a minute, at which 30,000
// locks take 15 minutes to 5 hours; a higher limit keeps the run short and
// still shows whether the loop holds its pace.
const lockWritesPerMinute = 30000

// lockRepo is the repository the lock loop works on.
const lockRepo = "bulk/app"

// startACR starts the ACR emulator alone with tags tags in lockRepo, 30%
// of them unlocked, and returns the sandbox and how many tags are unlocked
// in the whole registry (the demo repositories have a few too).
func startACR(b *testing.B, tags, writesPerMinute int, o sandbox.Options) (*sandbox.Sandbox, int64) {
	b.Helper()
	o.Emulators = catalog.Emulators()
	o.Kinds = []providers.Kind{providers.KindACR}
	o.ACRWritesPerMinute = writesPerMinute
	sb, err := sandbox.Start(b.Context(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sb.Close() })
	srv := acrServer(sb)
	for i := range tags {
		srv.AddTag(lockRepo, fmt.Sprintf("1.%d.%d", i/1000, i%1000), i%10 >= 3)
	}
	var unlocked int64
	for _, repo := range srv.Repositories() {
		total, locked := srv.Counts(repo)
		unlocked += int64(total - locked)
	}
	return sb, unlocked
}

// fixACR runs `immutag fix --apply` on the ACR emulator in a child and
// returns the run and its report.
func fixACR(b *testing.B, sb *sandbox.Sandbox, writesPerMinute, workers int) (childRun, *report) {
	b.Helper()
	cfg := sb.Config(time.Now())
	// Nothing may stay mutable: the loop is measured on every unlocked tag
	// (an allowed latest would stay unlocked and skew PATCH per tag).
	cfg.Policy.MutableTagsAllowed = nil
	for i := range cfg.Providers {
		cfg.Providers[i].Rate.RequestsPerSecond = float64(writesPerMinute) / 60
		cfg.Providers[i].Rate.MaxConcurrent = workers
	}
	path := writeConfig(b, cfg)
	dir := b.TempDir()
	out := filepath.Join(dir, "report.json")
	r := runImmutag(b, sb.Env(), "fix", "--config", path, "--apply", "--yes", "--journal", filepath.Join(dir, "journal.jsonl"),
		"-o", "json", "--output", out)
	if r.Code != 0 {
		b.Fatalf("fix exit %d: %s\n%s", r.Code, r.Err, tail(r.Stderr))
	}
	return r, readReport(b, out)
}

// BenchmarkACRLockLoop locks every unlocked tag of a registry holding 10,000
// and then 100,000 tags (30% unlocked) at lockWritesPerMinute: PATCH calls
// per unlocked tag (want exactly 1), achieved write rate against the limit
// (want >= 90%), throttled answers, and peak RSS as the tags grow tenfold.
func BenchmarkACRLockLoop(b *testing.B) {
	var rss []float64
	for _, tags := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("tags=%d", tags), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				sb, unlocked := startACR(b, tags, lockWritesPerMinute, sandbox.Options{})
				b.StartTimer()
				r, rep := fixACR(b, sb, lockWritesPerMinute, 16)
				srv := acrServer(sb)
				srv.WaitIdle()
				calls := sb.Calls()[providers.KindACR]
				patches := calls["PATCH tag"]
				var throttled int64
				for op, n := range calls {
					if strings.HasPrefix(op, "PATCH") && strings.HasSuffix(op, " 429") {
						throttled += n
					}
				}
				first, last := srv.WriteWindow()
				achieved := float64(patches-1) / last.Sub(first).Seconds()
				limit := float64(lockWritesPerMinute) / 60
				for _, repo := range srv.Repositories() {
					if total, locked := srv.Counts(repo); total != locked {
						b.Fatalf("%s: %d of %d tags still unlocked after the fix", repo, total-locked, total)
					}
				}
				for _, c := range rep.Changes {
					if !c.Verified {
						b.Fatalf("change %s not verified: %s", c.Repository, c.State)
					}
				}
				b.ReportMetric(float64(unlocked), "unlocked_tags")
				b.ReportMetric(float64(patches), "PATCHes")
				b.ReportMetric(float64(patches)/float64(unlocked), "PATCH/unlocked_tag")
				b.ReportMetric(float64(throttled), "throttled")
				b.ReportMetric(limit, "limit_writes/s")
				b.ReportMetric(achieved, "achieved_writes/s")
				b.ReportMetric(achieved/limit, "achieved/limit")
				b.ReportMetric(r.Wall.Seconds(), "wall_s")
				b.ReportMetric(r.RSSMB, "peak_rss_MB")
				b.Logf("%d tags, %d unlocked: %d PATCH (%.3f per unlocked tag), %d throttled; write rate %.1f/s of %.1f/s (%.1f%%) over %s; "+
					"reads %d tag pages; wall %s; peak RSS %.1f MB",
					tags, unlocked, patches, float64(patches)/float64(unlocked), throttled, achieved, limit, 100*achieved/limit,
					last.Sub(first).Round(time.Millisecond), calls["GET tags"], r.Wall.Round(time.Millisecond), r.RSSMB)
				record(fmt.Sprintf("acr-lock-%d", tags), map[string]any{"tags": tags, "unlocked": unlocked, "patches": patches,
					"throttled": throttled, "limit": limit, "achieved": achieved, "wall_s": r.Wall.Seconds(), "rss_mb": r.RSSMB,
					"tag_pages": calls["GET tags"]})
				if tags == 100000 && len(rss) > 0 {
					b.ReportMetric(r.RSSMB/rss[0], "rss_vs_10k")
				}
				rss = append(rss, r.RSSMB)
			}
		})
	}
}
