package bench

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	ecremu "github.com/immutag/immutag/internal/emulator/ecr"
)

// BenchmarkLedgerAudit100k audits 100 ECR repositories holding 1,000 tags
// each (100,000 tags) in a child process, plain and with --record into a
// fresh SQLite ledger, and reports both peak RSS figures, their difference,
// the recording run's wall time and its DescribeImages calls per repository
// (the tag-listing pages: 1,000 images a page).
func BenchmarkLedgerAudit100k(b *testing.B) {
	const repos, tags = 100, 1000
	emu := ecremu.New(ecremu.Options{})
	emuWeb := httptest.NewServer(emu.Handler())
	b.Cleanup(emuWeb.Close)
	acct := ecremu.DefaultAccount
	for r := 0; r < repos; r++ {
		name := fmt.Sprintf("team/svc-%03d", r)
		if err := emu.CreateRepository(acct, "us-east-1", name, ecremu.Mutable); err != nil {
			b.Fatal(err)
		}
		for t := 0; t < tags; t++ {
			if err := emu.PutImage(acct, "us-east-1", name, "v"+strconv.Itoa(t), fmt.Sprintf("sha256:%064x", r*tags+t)); err != nil {
				b.Fatal(err)
			}
		}
	}
	dir := b.TempDir()
	cfg := filepath.Join(dir, "immutag.yaml")
	body := "version: 1\nproviders:\n  - name: aws\n    kind: ecr\n    endpoint: " + emuWeb.URL + "\n    regions: [us-east-1]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEMULATORBENCH000", "AWS_SECRET_ACCESS_KEY": "bench-secret",
		"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": emuWeb.URL}
	for i := 0; i < b.N; i++ {
		// Peak RSS moves by a few MB from one run of the same command to
		// the next (when the collector happens to run): each figure is the
		// median of three runs, plain and recording alternating.
		var plainRSS, firstRSS []float64
		var plain, first childRun
		var calls int64
		for k := range rssRuns {
			plain = runImmutag(b, env, "audit", "--config", cfg, "-o", "json", "--output", filepath.Join(dir, "plain.json"))
			before := emu.Calls().Get("DescribeImages")
			ledgerPath := filepath.Join(dir, fmt.Sprintf("ledger-%d-%d.db", i, k))
			first = runImmutag(b, env, "audit", "--config", cfg, "-o", "json", "--output", filepath.Join(dir, "first.json"), "--record", "--ledger", ledgerPath)
			calls = emu.Calls().Get("DescribeImages") - before
			for name, r := range map[string]childRun{"plain": plain, "first": first} {
				if r.Code != 0 {
					b.Fatalf("%s: exit %d: %s\n%s", name, r.Code, r.Err, tail(r.Stderr))
				}
			}
			plainRSS, firstRSS = append(plainRSS, plain.RSSMB), append(firstRSS, first.RSSMB)
		}
		ledgerPath := filepath.Join(dir, fmt.Sprintf("ledger-%d-%d.db", i, rssRuns-1))
		again := runImmutag(b, env, "audit", "--config", cfg, "-o", "json", "--output", filepath.Join(dir, "again.json"), "--record", "--ledger", ledgerPath)
		if again.Code != 0 {
			b.Fatalf("again: exit %d: %s\n%s", again.Code, again.Err, tail(again.Stderr))
		}
		pm, fm := median(plainRSS), median(firstRSS)
		b.ReportMetric(pm, "plain-peak-RSS-MB")
		b.ReportMetric(fm, "record-peak-RSS-MB")
		b.ReportMetric(fm-pm, "record-extra-RSS-MB")
		b.ReportMetric(plain.Wall.Seconds(), "plain-s")
		b.ReportMetric(first.Wall.Seconds(), "record-first-s")
		b.ReportMetric(again.Wall.Seconds(), "record-unchanged-s")
		b.ReportMetric(float64(calls)/repos, "DescribeImages/repo")
		b.Logf("peak RSS of %d runs: plain %v MB, recording %v MB; load average %s", rssRuns, plainRSS, firstRSS, loadAvg())
	}
}

// rssRuns is how many runs each peak-RSS figure is the median of.
const rssRuns = 3

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
