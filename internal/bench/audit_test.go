package bench

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/emulator/sandbox"
	"github.com/immutag/immutag/internal/providers/catalog"
)

// Audit benchmark settings.
const (
	perRegistry = 2000                  // repositories per registry
	latency     = 20 * time.Millisecond // injected per API call
	inFlight    = 8                     // rate.max_concurrent of every provider
	// engineConcurrency is above the number of scopes (about 40), so no
	// scope waits for a slot and the providers' own limits are the bound.
	engineConcurrency = 64
)

// startEstate starts every emulator with perRegistry repositories each.
func startEstate(b *testing.B, seed int, f emulator.Faults) *sandbox.Sandbox {
	b.Helper()
	sb, err := sandbox.Start(b.Context(), sandbox.Options{Emulators: catalog.Emulators(), Seed: seed, Faults: f})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sb.Close() })
	return sb
}

// auditConfig is the sandbox config with every provider limited to
// inFlight calls at once and a request rate high enough never to bind
// (the Docker Hub demo entry's 200/s would otherwise set the pace).
func auditConfig(sb *sandbox.Sandbox) *config.Config {
	cfg := sb.Config(time.Now())
	for i := range cfg.Providers {
		cfg.Providers[i].Rate = config.Rate{RequestsPerSecond: 100000, MaxConcurrent: inFlight}
	}
	return cfg
}

// BenchmarkAudit12k audits 12,000 repositories (2,000 per registry) with
// 20 ms injected per call, all six providers at once ("all") and each one
// alone, and sets the wall time against the lower bound.
func BenchmarkAudit12k(b *testing.B) {
	sb := startEstate(b, perRegistry, emulator.Faults{Latency: latency})
	cfg := auditConfig(sb)
	path := writeConfig(b, cfg)
	names := []string{"all"}
	for _, p := range cfg.Providers {
		names = append(names, string(p.Kind))
	}
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			args := []string{"audit", "--config", path, "-o", "json", "--concurrency", fmt.Sprint(engineConcurrency)}
			if name != "all" {
				for _, p := range cfg.Providers {
					if string(p.Kind) == name {
						args = append(args, "--provider", p.Name)
					}
				}
			}
			for b.Loop() {
				sb.ResetCalls()
				out := filepath.Join(b.TempDir(), "report.json")
				r := runImmutag(b, sb.Env(), append(args, "--output", out)...)
				if r.Code != 0 {
					b.Fatalf("audit exit %d: %s\n%s", r.Code, r.Err, tail(r.Stderr))
				}
				rep := readReport(b, out)
				reportAudit(b, sb, rep, r)
			}
		})
	}
}

// reportAudit sets the run against the model and reports the figures.
func reportAudit(b *testing.B, sb *sandbox.Sandbox, rep *report, r childRun) {
	b.Helper()
	if rep.Summary.ScopeErrors != 0 || rep.Summary.Error != 0 {
		b.Fatalf("incomplete audit: %d scope errors, %d unreadable repositories", rep.Summary.ScopeErrors, rep.Summary.Error)
	}
	ms := models(rep, sb)
	calls := sb.Calls()
	var (
		bound               time.Duration
		actual, redundant   int64
		unavoidable, tokens int64
		table               strings.Builder
		slowest             string
	)
	provs := make([]string, 0, len(ms))
	for p := range ms {
		provs = append(provs, p)
	}
	slices.Sort(provs)
	for _, p := range provs {
		m := ms[p]
		c := compare(m, calls[m.Kind])
		pb := m.bound(latency, inFlight)
		if pb > bound {
			bound, slowest = pb, p
		}
		actual += c.Actual
		redundant += c.Redundant
		unavoidable += m.total()
		tokens += c.Auth
		fmt.Fprintf(&table, "  %s (%s): %d repositories, %d calls (%d unavoidable, %d redundant, %d token calls), chain %d, bound %s\n",
			p, m.Kind, m.Repos, c.Actual, m.total(), c.Redundant, c.Auth, m.Chain, pb.Round(time.Millisecond))
		table.WriteString(callTable(m, calls[m.Kind]))
	}
	ratio := r.Wall.Seconds() / bound.Seconds()
	b.ReportMetric(float64(rep.Summary.Repositories), "repos")
	b.ReportMetric(r.Wall.Seconds(), "wall_s")
	b.ReportMetric(bound.Seconds(), "bound_s")
	b.ReportMetric(ratio, "wall/bound")
	b.ReportMetric(float64(actual), "calls")
	b.ReportMetric(float64(actual)/float64(rep.Summary.Repositories), "calls/repo")
	b.ReportMetric(float64(redundant), "redundant_calls")
	b.ReportMetric(float64(tokens), "token_calls")
	b.ReportMetric(r.RSSMB, "peak_rss_MB")
	b.Logf("audit of %d repositories, %s per call, %d calls in flight per provider: wall %s, lower bound %s (%s), ratio %.2f; "+
		"%d calls (%d unavoidable, %d redundant) + %d token calls; peak RSS %.1f MB; load average %s\n%s",
		rep.Summary.Repositories, latency, inFlight, r.Wall.Round(time.Millisecond), bound.Round(time.Millisecond), slowest, ratio,
		actual, unavoidable, redundant, tokens, r.RSSMB, loadAvg(), table.String())
	record("audit", map[string]any{"repos": rep.Summary.Repositories, "wall_s": r.Wall.Seconds(), "bound_s": bound.Seconds(),
		"ratio": ratio, "calls": actual, "unavoidable": unavoidable, "redundant": redundant, "tokens": tokens, "rss_mb": r.RSSMB,
		"detail": table.String()})
}

// BenchmarkScaling audits 1k, 10k and 50k repositories (a sixth per
// registry) without injected latency, so the figures are immutag's own
// cost (plus the emulators, which share the machine), and reports how the
// time and peak RSS grow.
func BenchmarkScaling(b *testing.B) {
	type point struct {
		repos int
		wall  time.Duration
		rss   float64
	}
	var points []point
	for _, total := range []int{1000, 10000, 50000} {
		b.Run(fmt.Sprintf("repos=%d", total), func(b *testing.B) {
			sb := startEstate(b, total/len(catalog.Emulators()), emulator.Faults{})
			cfg := auditConfig(sb)
			path := writeConfig(b, cfg)
			var last point
			for b.Loop() {
				out := filepath.Join(b.TempDir(), "report.json")
				r := runImmutag(b, sb.Env(), "audit", "--config", path, "-o", "json", "--output", out,
					"--concurrency", fmt.Sprint(engineConcurrency))
				if r.Code != 0 {
					b.Fatalf("audit exit %d: %s\n%s", r.Code, r.Err, tail(r.Stderr))
				}
				rep := readReport(b, out)
				last = point{rep.Summary.Repositories, r.Wall, r.RSSMB}
			}
			b.ReportMetric(float64(last.repos), "repos")
			b.ReportMetric(last.wall.Seconds(), "wall_s")
			b.ReportMetric(float64(last.wall.Microseconds())/float64(last.repos), "us/repo")
			b.ReportMetric(last.rss, "peak_rss_MB")
			points = append(points, last)
			record(fmt.Sprintf("scaling-%d", total), map[string]any{"repos": last.repos, "wall_s": last.wall.Seconds(), "rss_mb": last.rss})
			if n := len(points); n > 1 {
				prev := points[n-2]
				perRepo := (last.wall.Seconds() / float64(last.repos)) / (prev.wall.Seconds() / float64(prev.repos))
				b.ReportMetric(perRepo, "time/repo_vs_prev")
				b.Logf("%d -> %d repositories (x%.0f): time x%.2f (per repository x%.2f), peak RSS %.1f -> %.1f MB",
					prev.repos, last.repos, float64(last.repos)/float64(prev.repos), last.wall.Seconds()/prev.wall.Seconds(), perRepo, prev.rss, last.rss)
			}
		})
	}
}
