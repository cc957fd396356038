// Package bench is immutag's benchmark suite. Everything lives in its test
// files and runs only with -bench (`make bench`):
//
//   - BenchmarkAudit12k: 12,000 repositories (2,000 per registry) behind 20 ms
//     of injected latency per call, against the lower bound the concurrency
//     limit and the unavoidable calls allow;
//   - BenchmarkACRLockLoop: the ACR per-tag lock loop on 10,000 and 100,000
//     tags (30% unlocked) at a configured write limit;
//   - BenchmarkVersusCLI: the same fixes done the way users do them today
//     (an az-style per-tag loop, an aws CLI loop against moto_server);
//   - BenchmarkScaling: audit time and memory at 1k, 10k and 50k repositories.
//
// The emulators run in the benchmark process; immutag runs in a child
// process (the test binary re-executed), so its peak RSS (the child's own
// VmHWM) is immutag's and not the emulators'. BENCHMARKS.md has the figures.
package bench
