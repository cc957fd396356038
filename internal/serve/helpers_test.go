package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

const testSecret = "correct-horse-battery-staple-0123456789"

var runSeq atomic.Int64

// engineScan is what the CLI hands the service: one audit engine pass with
// run metadata.
func engineScan(pol config.Policy) ScanFunc {
	return func(ctx context.Context, provs []providers.Provider, plan bool) (*audit.Scan, error) {
		started := time.Now().UTC()
		eng := &audit.Engine{Providers: provs, Policy: audit.PolicyFrom(pol, started), Plan: plan, Concurrency: 2}
		sc, err := eng.Run(ctx)
		if err != nil {
			if sc != nil {
				sc.Report.Close()
			}
			return nil, err
		}
		sc.Report.Tool = audit.Tool{Name: "immutag", Version: "test"}
		sc.Report.Run = audit.Run{ID: fmt.Sprintf("run%d", runSeq.Add(1)), StartedAt: started,
			FinishedAt: time.Now().UTC(), Command: "serve", ConfigSHA256: strings.Repeat("0", 64)}
		return sc, nil
	}
}

// scanSignal returns a configure function that reports every finished
// scan (report written, metrics set) on the channel.
func scanSignal() (func(*Service), chan struct{}) {
	ch := make(chan struct{}, 100)
	return func(s *Service) { s.scanDone = func() { ch <- struct{}{} } }, ch
}

// batchSignal reports every finished webhook batch with its tags.
func batchSignal() (func(*Service), chan []string) {
	ch := make(chan []string, 100)
	return func(s *Service) {
		inner := s.queue.process
		s.queue.process = func(ctx context.Context, k repoKey, tags []string) {
			inner(ctx, k, tags)
			ch <- tags
		}
	}, ch
}

func testOptions(t *testing.T, provs ...providers.Provider) Options {
	t.Helper()
	dir := t.TempDir()
	return Options{
		Providers:  provs,
		Scan:       engineScan(config.Policy{}),
		Schedule:   Every(time.Hour),
		Clock:      newFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)),
		ReportsDir: dir + "/reports",
		Journal:    dir + "/journal.jsonl",
		Coalesce:   -1,
		Version:    "test",
	}
}

// running is a Service started with Run on a loopback listener.
type running struct {
	svc    *Service
	url    string
	cancel context.CancelFunc
	done   chan error
}

// startService runs a Service; configure may set test hooks before Run.
func startService(t *testing.T, o Options, configure ...func(*Service)) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listener = ln
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configure {
		c(svc)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{svc: svc, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the service and waits for Run; it returns Run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("service did not stop")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels
// include want; ok is false when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := value(mfs, name, want)
	if !ok {
		t.Fatalf("metric %s%v not found", name, want)
	}
	return v
}

// readJournal returns every journal entry.
func readJournal(t *testing.T, path string) []audit.JournalEntry {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.JournalEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.JournalEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// reportJSON is the part of the report the tests compare with metrics.
type reportJSON struct {
	Run struct {
		ID         string    `json:"id"`
		StartedAt  time.Time `json:"started_at"`
		FinishedAt time.Time `json:"finished_at"`
		Command    string    `json:"command"`
	} `json:"run"`
	Summary struct {
		audit.Counts
		ScopeErrors int                     `json:"scope_errors"`
		ByProvider  map[string]audit.Counts `json:"by_provider"`
	} `json:"summary"`
	Scopes  []audit.ScopeResult `json:"scopes"`
	Changes []struct {
		Provider   string `json:"provider"`
		Kind       string `json:"kind"`
		Repository string `json:"repository"`
		State      string `json:"state"`
		Verified   bool   `json:"verified"`
		Writes     int64  `json:"writes"`
	} `json:"changes"`
}

// latestReport fetches /report/latest, checks it against the report JSON
// Schema and decodes it.
func latestReport(t *testing.T, url string) reportJSON {
	t.Helper()
	code, body := get(t, url+"/report/latest")
	if code != http.StatusOK {
		t.Fatalf("/report/latest: %d %s", code, body)
	}
	validateReport(t, []byte(body))
	var r reportJSON
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("report: %v", err)
	}
	return r
}

func waitFor[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func validateReport(t *testing.T, b []byte) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", "configs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("report does not match configs/report.schema.json: %v", err)
	}
}
