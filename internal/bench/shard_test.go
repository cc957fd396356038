package bench

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// Sharded audit settings: 100,000 repositories split over four shards.
const (
	shardedTotal = 100000
	shardCount   = 4
)

// BenchmarkShardedAudit100k audits 100,000 repositories (a sixth per
// registry, 20 ms per call) as four shards run one after another, as the
// pods of an Indexed Job would each run, sets every shard's wall time
// against its own lower bound (the call model of BenchmarkAudit12k for the
// calls that shard must make), then times `report merge` of the four
// reports and its peak RSS.
func BenchmarkShardedAudit100k(b *testing.B) {
	sb := startEstate(b, shardedTotal/len(catalog.Emulators()), emulator.Faults{Latency: latency})
	cfg := auditConfig(sb)
	path := writeConfig(b, cfg)
	for b.Loop() {
		dir := b.TempDir()
		var (
			paths []string
			runs  []childRun
			reps  []*report
			calls []map[providers.Kind]map[string]int64
		)
		for i := range shardCount {
			sb.ResetCalls()
			out := filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
			r := runImmutag(b, sb.Env(), "audit", "--config", path, "-o", "json", "--output", out,
				"--concurrency", fmt.Sprint(engineConcurrency), "--shard", fmt.Sprintf("%d/%d", i, shardCount))
			if r.Code != 0 {
				b.Fatalf("shard %d: exit %d: %s\n%s", i, r.Code, r.Err, tail(r.Stderr))
			}
			paths, runs = append(paths, out), append(runs, r)
			reps = append(reps, readReport(b, out))
			calls = append(calls, sb.Calls())
		}
		// Repositories per scope over all shards: what a split scope's
		// catalog holds.
		totals := map[string]int{}
		repos := 0
		for _, rep := range reps {
			repos += rep.Summary.Repositories
			for _, s := range rep.Scopes {
				totals[s.Provider+"/"+s.Scope] += s.Repositories
			}
		}
		var worst float64
		var lines []string
		var redundant int64
		for i, rep := range reps {
			sh := &audit.Shard{Index: i, Count: shardCount}
			ms := shardModels(rep, sb, sh, totals)
			var bound time.Duration
			for _, m := range ms {
				bound = max(bound, m.bound(latency, inFlight))
				c := compare(m, calls[i][m.Kind])
				redundant += c.Redundant
			}
			ratio := runs[i].Wall.Seconds() / bound.Seconds()
			worst = max(worst, ratio)
			lines = append(lines, fmt.Sprintf("  shard %d/%d: %d repositories, wall %s, bound %s, ratio %.2f, peak RSS %.1f MB",
				i, shardCount, rep.Summary.Repositories, runs[i].Wall.Round(time.Millisecond), bound.Round(time.Millisecond), ratio, runs[i].RSSMB))
		}
		merged := filepath.Join(dir, "merged.json")
		m := runImmutag(b, nil, append([]string{"report", "merge", "-o", "json", "--output", merged}, paths...)...)
		if m.Code != 0 {
			b.Fatalf("merge: exit %d: %s\n%s", m.Code, m.Err, tail(m.Stderr))
		}
		if got := readReport(b, merged).Summary.Repositories; got != repos || repos < shardedTotal*9/10 {
			b.Fatalf("merged report has %d repositories, shards %d (estate about %d)", got, repos, shardedTotal)
		}
		slices.Sort(lines)
		b.ReportMetric(float64(repos), "repos")
		b.ReportMetric(worst, "worst_shard_wall/bound")
		b.ReportMetric(float64(redundant), "redundant_calls")
		b.ReportMetric(m.Wall.Seconds(), "merge_s")
		b.ReportMetric(m.RSSMB, "merge_peak_rss_MB")
		b.Logf("%d repositories in %d shards, %s per call, %d calls in flight per provider; load average %s\n%s\n  merge: %s, peak RSS %.1f MB",
			repos, shardCount, latency, inFlight, loadAvg(), strings.Join(lines, "\n"), m.Wall.Round(time.Millisecond), m.RSSMB)
		record("sharded-audit", map[string]any{"repos": repos, "shards": shardCount, "worst_ratio": worst, "redundant": redundant,
			"merge_s": m.Wall.Seconds(), "merge_rss_mb": m.RSSMB, "detail": strings.Join(lines, "\n")})
	}
}
