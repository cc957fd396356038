package serve

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/fake"
)

func imm(m providers.Mode) providers.Immutability { return providers.Immutability{Mode: m} }

// estate has every status on two providers and an unreadable scope.
func estate() (*fake.Provider, *fake.Provider) {
	aws := fake.New("aws", providers.KindECR).
		Add("111/us-east-1", fake.Repo{Name: "api", Immutability: imm(providers.ModeImmutable)}).
		Add("111/us-east-1", fake.Repo{Name: "web", Immutability: imm(providers.ModeImmutable)}).
		Add("111/us-east-1", fake.Repo{Name: "legacy", Immutability: imm(providers.ModeMutable)}).
		Add("111/us-east-1", fake.Repo{Name: "cache/hub", Immutability: imm(providers.ModeMutable), DefaultExemption: "pull-through cache"}).
		Add("222/eu-west-1", fake.Repo{Name: "secret", Immutability: providers.Immutability{Mode: providers.ModeUnknown, Error: "AccessDenied"}}).
		FailScope("333/ap-south-1", &providers.APIError{Class: providers.ErrThrottled, Status: 429, Message: "rate exceeded"})
	hub := fake.New("hub", providers.KindDockerHub).
		Add("acme", fake.Repo{Name: "tool", Immutability: imm(providers.ModeMutable)}).
		Add("acme", fake.Repo{Name: "lib", Immutability: imm(providers.ModePartial)})
	return aws, hub
}

// /metrics is scraped, parsed with the Prometheus text parser and compared
// with the report /report/latest serves.
func TestMetricsMatchReport(t *testing.T) {
	aws, hub := estate()
	o := testOptions(t, aws, hub)
	sig, scans := scanSignal()
	r := startService(t, o, sig)
	waitFor(t, scans, "first scan")

	rep := latestReport(t, r.url)
	mfs := scrape(t, r.url)
	if rep.Run.Command != "serve" || rep.Summary.Repositories != 7 {
		t.Fatalf("unexpected report: %+v", rep.Summary)
	}
	for prov, c := range rep.Summary.ByProvider {
		for status, n := range map[string]int{"compliant": c.Compliant, "drift": c.Drift, "exempt": c.Exempt, "error": c.Error} {
			got := mustValue(t, mfs, MetricRepositories, map[string]string{"provider": prov, "status": status})
			if int(got) != n {
				t.Errorf("%s{provider=%s,status=%s} = %v, report says %d", MetricRepositories, prov, status, got, n)
			}
		}
	}
	// The numbers themselves, so a report and metrics that agree on
	// nothing would not pass.
	if c := rep.Summary.ByProvider["aws"]; c.Compliant != 2 || c.Drift != 1 || c.Exempt != 1 || c.Error != 1 {
		t.Fatalf("aws counts %+v", c)
	}
	if got := mustValue(t, mfs, MetricScopeErrors, map[string]string{"provider": "aws"}); int(got) != rep.Summary.ScopeErrors || got != 1 {
		t.Errorf("scope errors %v, report %d", got, rep.Summary.ScopeErrors)
	}
	if got := mustValue(t, mfs, MetricScanErrors, map[string]string{"type": "scope"}); int(got) != rep.Summary.ScopeErrors {
		t.Errorf("scan errors (scope) %v, report %d", got, rep.Summary.ScopeErrors)
	}
	if got := mustValue(t, mfs, MetricScanErrors, map[string]string{"type": "repository"}); int(got) != rep.Summary.Error {
		t.Errorf("scan errors (repository) %v, report %d", got, rep.Summary.Error)
	}
	dur := rep.Run.FinishedAt.Sub(rep.Run.StartedAt).Seconds()
	if got := mustValue(t, mfs, MetricScanDuration, nil); got != dur {
		t.Errorf("scan duration %v, report %v", got, dur)
	}
	if got := mustValue(t, mfs, MetricLastScan, nil); got != float64(rep.Run.FinishedAt.UnixNano())/1e9 {
		t.Errorf("last scan %v, report finished_at %v", got, rep.Run.FinishedAt)
	}
	// Incomplete: never counted as a successful scan.
	if got := mustValue(t, mfs, MetricLastSuccessfulScan, nil); got != 0 {
		t.Errorf("an incomplete scan set the last successful scan to %v", got)
	}
	if got := mustValue(t, mfs, MetricScans, map[string]string{"result": "incomplete"}); got != 1 {
		t.Errorf("incomplete scans %v", got)
	}
	// API calls seen by the engine: scope enumeration once per provider,
	// one listing per scope; the throttled scope is a throttle.
	if got := mustValue(t, mfs, MetricAPICalls, map[string]string{"provider": "aws", "call": "list_scope"}); got != 3 {
		t.Errorf("aws list_scope calls %v, want 3 (scopes in report: %d)", got, len(rep.Scopes))
	}
	if got := mustValue(t, mfs, MetricAPIThrottles, map[string]string{"provider": "aws"}); got != 1 {
		t.Errorf("aws throttles %v, want 1", got)
	}
	if _, ok := value(mfs, MetricAPIThrottles, map[string]string{"provider": "hub"}); ok {
		t.Errorf("hub was never throttled but has a throttle series")
	}
	if mfs["go_goroutines"] == nil || mfs[MetricBuildInfo] == nil {
		t.Error("go collector or build info missing")
	}

	// A second, complete scan moves the success timestamp to its report.
	aws2 := fake.New("aws", providers.KindECR).Add("111/us-east-1", fake.Repo{Name: "api", Immutability: imm(providers.ModeImmutable)})
	r.svc.provs = []providers.Provider{Instrument(aws2, r.svc.metrics, "enforce")}
	clk := o.Clock.(*fakeClock)
	clk.Advance(waitTimer(t, clk))
	waitFor(t, scans, "second scan")
	rep = latestReport(t, r.url)
	mfs = scrape(t, r.url)
	if got := mustValue(t, mfs, MetricLastSuccessfulScan, nil); got != float64(rep.Run.FinishedAt.UnixNano())/1e9 {
		t.Errorf("last successful %v, report finished_at %v", got, rep.Run.FinishedAt)
	}
	if _, ok := value(mfs, MetricRepositories, map[string]string{"provider": "hub"}); ok {
		t.Error("a provider no longer scanned is still reported")
	}
	if got := mustValue(t, mfs, MetricRepositories, map[string]string{"provider": "aws", "status": "compliant"}); got != 1 {
		t.Errorf("aws compliant %v after the second scan, want 1", got)
	}
	if got := mustValue(t, mfs, MetricScans, map[string]string{"result": "complete"}); got != 1 {
		t.Errorf("complete scans %v", got)
	}
}

func TestProbesAndLatest(t *testing.T) {
	gate := make(chan struct{})
	aws := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "a", Immutability: imm(providers.ModeImmutable)})
	aws.Gate = gate
	o := testOptions(t, aws)
	sig, scans := scanSignal()
	r := startService(t, o, sig)

	// While the first scan runs: alive, not ready, no report.
	if code, _ := get(t, r.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if code, body := get(t, r.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before the first scan: %d %s", code, body)
	}
	if code, _ := get(t, r.url+"/report/latest"); code != http.StatusServiceUnavailable {
		t.Fatalf("/report/latest before the first scan: %d", code)
	}
	if got := mustValue(t, scrape(t, r.url), MetricReady, nil); got != 0 {
		t.Fatalf("ready gauge %v before the first scan", got)
	}
	close(gate)
	waitFor(t, scans, "first scan")
	if code, body := get(t, r.url+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after the first scan: %d %s", code, body)
	}
	if rep := latestReport(t, r.url); rep.Summary.Compliant != 1 {
		t.Fatalf("latest report %+v", rep.Summary)
	}
	if code, _ := get(t, r.url+"/webhooks/acr"); code != http.StatusNotFound {
		t.Fatalf("webhook without a secret: %d, want 404", code)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// Reports go to the directory; only the last Keep stay.
func TestReportHistoryKeep(t *testing.T) {
	aws := fake.New("aws", providers.KindECR).Add("s", fake.Repo{Name: "a", Immutability: imm(providers.ModeMutable)})
	o := testOptions(t, aws)
	o.Keep = 3
	// A report left by an earlier process counts towards Keep.
	if err := os.MkdirAll(o.ReportsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(o.ReportsDir, reportPrefix+"20200101T000000.000000000Z-000001-old"+reportSuffix)
	if err := os.WriteFile(old, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	unrelated := filepath.Join(o.ReportsDir, "notes.txt")
	if err := os.WriteFile(unrelated, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sig, scans := scanSignal()
	r := startService(t, o, sig)
	clk := o.Clock.(*fakeClock)
	var ids []string
	for i := range 5 {
		if i > 0 {
			clk.Advance(waitTimer(t, clk))
		}
		waitFor(t, scans, "scan")
		ids = append(ids, latestReport(t, r.url).Run.ID)
	}
	entries, err := os.ReadDir(o.ReportsDir)
	if err != nil {
		t.Fatal(err)
	}
	var reports []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), reportPrefix) {
			reports = append(reports, e.Name())
		}
	}
	if len(reports) != 3 {
		t.Fatalf("%d reports kept, want 3: %v", len(reports), reports)
	}
	for i, id := range ids[2:] {
		if !strings.HasSuffix(reports[i], "-"+id+reportSuffix) {
			t.Fatalf("kept %v, want the reports of the last three runs %v", reports, ids[2:])
		}
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Fatalf("an unrelated file was removed: %v", err)
	}
}

// --enforce applies the plan like fix --apply: journaled, verified, and
// counted; metrics agree with the changes in the report.
func TestEnforceWithFake(t *testing.T) {
	aws := fake.New("aws", providers.KindECR).
		Add("s", fake.Repo{Name: "ok", Immutability: imm(providers.ModeImmutable)}).
		Add("s", fake.Repo{Name: "bad1", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "bad2", Immutability: imm(providers.ModePartial)}).
		Add("s", fake.Repo{Name: "sandbox/x", Immutability: imm(providers.ModeMutable)}).
		Add("s", fake.Repo{Name: "unread", Immutability: providers.Immutability{Mode: providers.ModeUnknown, Error: "denied"}})
	broken := fake.New("acr", providers.KindACR).Add("reg.azurecr.io", fake.Repo{Name: "app", Immutability: imm(providers.ModeMutable)})
	broken.BreakVerify = true
	o := testOptions(t, aws, broken)
	pol := config.Policy{Exemptions: []config.Exemption{{Repository: "sandbox/*", Reason: "scratch"}}}
	o.Scan = engineScan(pol)
	o.Policy = pol
	o.Enforce = true
	sig, scans := scanSignal()
	r := startService(t, o, sig)
	waitFor(t, scans, "scan")

	if m, _ := aws.Get("s", "bad1"); m.Mode != providers.ModeImmutable {
		t.Fatalf("bad1 not fixed: %v", m)
	}
	for _, name := range []string{"sandbox/x", "unread"} {
		if m, _ := aws.Get("s", name); m.Mode == providers.ModeImmutable {
			t.Fatalf("%s was changed; exempt and unreadable repositories must not be", name)
		}
	}
	rep := latestReport(t, r.url)
	mfs := scrape(t, r.url)
	verified, failed := map[string]int{}, map[string]int{}
	writes := map[string]int64{}
	for _, c := range rep.Changes {
		if c.Verified {
			verified[c.Provider]++
		} else {
			failed[c.Provider]++
		}
		writes[c.Provider] += c.Writes
	}
	if verified["aws"] != 2 || failed["acr"] != 1 || len(rep.Changes) != 3 {
		t.Fatalf("changes in report: %+v", rep.Changes)
	}
	if got := mustValue(t, mfs, MetricFixesApplied, map[string]string{"provider": "aws", "result": "verified"}); int(got) != verified["aws"] {
		t.Errorf("fixes verified %v, report %d", got, verified["aws"])
	}
	if got := mustValue(t, mfs, MetricFixesApplied, map[string]string{"provider": "acr", "result": "verify-failed"}); int(got) != failed["acr"] {
		t.Errorf("fixes verify-failed %v, report %d", got, failed["acr"])
	}
	if got := mustValue(t, mfs, MetricAPICalls, map[string]string{"provider": "aws", "call": "SetImmutable"}); int64(got) != writes["aws"] {
		t.Errorf("aws write calls %v, report writes %d", got, writes["aws"])
	}
	if got := mustValue(t, mfs, MetricACRTagsLocked, map[string]string{"provider": "acr", "source": "enforce"}); int64(got) != writes["acr"] {
		t.Errorf("acr tags locked %v, report writes %d", got, writes["acr"])
	}
	// Every write is in the journal, under the report's run id.
	var js []audit.JournalEntry
	for _, e := range readJournal(t, o.Journal) {
		if e.Event == "write" {
			if e.RunID != rep.Run.ID {
				t.Errorf("journal run id %q, report %q", e.RunID, rep.Run.ID)
			}
			js = append(js, e)
		}
	}
	if int64(len(js)) != writes["aws"]+writes["acr"] {
		t.Fatalf("%d journaled writes, report has %d", len(js), writes["aws"]+writes["acr"])
	}
	// The published state is read again after the fixes: aws's two fixed
	// repositories count as compliant now (acr's broken write still drifts),
	// and the pre-fix counts are their own metric.
	if rep.Summary.ByProvider["aws"].Drift != 0 || rep.Summary.ByProvider["aws"].Compliant != 3 || rep.Summary.ByProvider["acr"].Drift != 1 {
		t.Errorf("published summary is not the post-fix state: %+v", rep.Summary.ByProvider)
	}
	if got := mustValue(t, mfs, MetricRepositories, map[string]string{"provider": "aws", "status": "drift"}); got != 0 {
		t.Errorf("%s drift after enforcement = %v, want 0", MetricRepositories, got)
	}
	if got := mustValue(t, mfs, MetricRepositoriesPreFix, map[string]string{"provider": "aws", "status": "drift"}); got != 2 {
		t.Errorf("%s drift = %v, want 2 (bad1, bad2 before the fix)", MetricRepositoriesPreFix, got)
	}
}

func TestScanFailureCounted(t *testing.T) {
	o := testOptions(t)
	o.Scan = func(_ context.Context, _ []providers.Provider, _ bool) (*audit.Scan, error) {
		return nil, errors.New("config vanished")
	}
	sig, scans := scanSignal()
	r := startService(t, o, sig)
	waitFor(t, scans, "scan")
	mfs := scrape(t, r.url)
	if got := mustValue(t, mfs, MetricScanErrors, map[string]string{"type": "scan"}); got != 1 {
		t.Fatalf("scan errors %v, want 1", got)
	}
	if code, _ := get(t, r.url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatal("ready although no scan completed")
	}
}

func TestListenWarning(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:9100": true, "[::1]:9100": true, "localhost:9100": true,
		":9100": false, "0.0.0.0:9100": false, "10.0.0.5:9100": false, "immutag.example.com:9100": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

func TestNewValidates(t *testing.T) {
	o := testOptions(t)
	o.Schedule = nil
	if _, err := New(o); err == nil {
		t.Error("no schedule accepted")
	}
	o = testOptions(t)
	o.Enforce, o.Journal = true, ""
	if _, err := New(o); err == nil {
		t.Error("--enforce without a journal accepted")
	}
}
