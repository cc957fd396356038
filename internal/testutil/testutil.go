// Package testutil holds the test doubles and helpers that the adapter and
// emulator tests share: a recording Emitter and Observer, a scan of every
// scope, concurrent Apply, Must, a settable Clock, raw HTTP calls, a
// transport that taps exchanges, and the lookup of the official API specs.
//
// Only tests (and test-only packages such as acrcontract) import it; it is
// a plain package, not _test.go files, so that every package's tests can
// use the same code.
package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/providers"
)

// Must fails the test at once when err is not nil.
func Must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// Key is how tests name a repository across scopes: "scope/name".
func Key(r providers.Repository) string { return r.Scope + "/" + r.Name }

// Emitter is a providers.Emitter that keeps, in order, every repository and
// warning a listing emitted. It is safe for concurrent use; the zero value is
// ready.
type Emitter struct {
	mu    sync.Mutex
	repos []providers.Repository
	warns []providers.Warning
}

var _ providers.Emitter = (*Emitter)(nil)

// Repository records r.
func (e *Emitter) Repository(r providers.Repository) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.repos = append(e.repos, r)
	return nil
}

// Warn records w.
func (e *Emitter) Warn(w providers.Warning) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.warns = append(e.warns, w)
}

// Repos returns the emitted repositories in emission order, repeats included.
func (e *Emitter) Repos() []providers.Repository {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]providers.Repository(nil), e.repos...)
}

// Warnings returns the emitted warnings in order.
func (e *Emitter) Warnings() []providers.Warning {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]providers.Warning(nil), e.warns...)
}

// ByName maps repository name to the repository (the last one emitted wins).
func (e *Emitter) ByName() map[string]providers.Repository {
	return e.index(func(r providers.Repository) string { return r.Name })
}

// ByKey maps Key (scope/name) to the repository (the last one emitted wins).
func (e *Emitter) ByKey() map[string]providers.Repository { return e.index(Key) }

func (e *Emitter) index(key func(providers.Repository) string) map[string]providers.Repository {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]providers.Repository, len(e.repos))
	for _, r := range e.repos {
		out[key(r)] = r
	}
	return out
}

// Names returns the name of every emitted repository, repeats included, sorted.
func (e *Emitter) Names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, r := range e.repos {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// Keys returns the distinct keys (scope/name) emitted, sorted.
func (e *Emitter) Keys() []string {
	var out []string
	for k := range e.ByKey() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Dups counts the repositories emitted again under a key already seen.
func (e *Emitter) Dups() int { return len(e.Repos()) - len(e.ByKey()) }

// Scan lists every scope of p into one Emitter, like the engine does: a
// scope's error is kept by scope name and the other scopes go on. An error
// from Scopes fails the test.
func Scan(tb testing.TB, p providers.Provider) (*Emitter, map[string]error) {
	tb.Helper()
	scopes, err := p.Scopes(tb.Context())
	if err != nil {
		tb.Fatalf("scopes: %v", err)
	}
	e := &Emitter{}
	errs := map[string]error{}
	for _, s := range scopes {
		if err := p.Repositories(tb.Context(), s, e); err != nil {
			errs[s.Name] = err
		}
	}
	return e, errs
}

// ScanEach is Scan with one Emitter per scope name.
func ScanEach(tb testing.TB, p providers.Provider) (map[string]*Emitter, map[string]error) {
	tb.Helper()
	scopes, err := p.Scopes(tb.Context())
	if err != nil {
		tb.Fatalf("scopes: %v", err)
	}
	ems, errs := map[string]*Emitter{}, map[string]error{}
	for _, s := range scopes {
		e := &Emitter{}
		ems[s.Name] = e
		if err := p.Repositories(tb.Context(), s, e); err != nil {
			errs[s.Name] = err
		}
	}
	return ems, errs
}

// ApplyAll applies every change at once, as the fixer does, reporting to o;
// an Apply error fails the test (it goes on). Results are in change order.
func ApplyAll(tb testing.TB, e providers.Enforcer, changes []providers.Change, o providers.Observer) []providers.Result {
	tb.Helper()
	results := make([]providers.Result, len(changes))
	var wg sync.WaitGroup
	for i, ch := range changes {
		wg.Go(func() {
			r, err := e.Apply(tb.Context(), ch, o)
			if err != nil {
				tb.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	return results
}

// Write is one write an Observer was told about.
type Write struct {
	Change providers.Change
	Record providers.WriteRecord
}

// Step is one progress report: done of total writes.
type Step struct{ Done, Total int64 }

// Observer is a providers.Observer that keeps every write and progress
// report. It is safe for concurrent use; the zero value is ready.
type Observer struct {
	// OnWrite, when set, runs after each write is recorded (outside the
	// lock, so it may call the adapter or the emulator) with the number of
	// successful writes so far.
	OnWrite func(successes int)

	mu     sync.Mutex
	writes []Write
	steps  []Step
	ok     int
}

var _ providers.Observer = (*Observer)(nil)

// Write records one write.
func (o *Observer) Write(c providers.Change, w providers.WriteRecord) {
	o.mu.Lock()
	o.writes = append(o.writes, Write{Change: c, Record: w})
	if w.Err == "" {
		o.ok++
	}
	n, f := o.ok, o.OnWrite
	o.mu.Unlock()
	if f != nil {
		f(n)
	}
}

// Progress records one progress report.
func (o *Observer) Progress(_ providers.Change, done, total int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.steps = append(o.steps, Step{Done: done, Total: total})
}

// Writes returns every write with its change, in order.
func (o *Observer) Writes() []Write {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Write(nil), o.writes...)
}

// Records returns the write records, in order.
func (o *Observer) Records() []providers.WriteRecord {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]providers.WriteRecord, len(o.writes))
	for i, w := range o.writes {
		out[i] = w.Record
	}
	return out
}

// Steps returns every progress report, in order.
func (o *Observer) Steps() []Step {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Step(nil), o.steps...)
}

// Clock is a settable clock for code that takes a func() time.Time. It is
// safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RoundTripFunc adapts a function to http.RoundTripper.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Send makes one raw HTTP call with hc: body "" sends none, prepare (may be
// nil) sets headers. It returns the response with its body read and closed.
func Send(tb testing.TB, hc *http.Client, method, url, body string, prepare func(*http.Request)) (*http.Response, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if prepare != nil {
		prepare(req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// Tap returns a RoundTripper that sends each request through base and then
// hands the whole exchange to check, with both bodies read (and put back,
// so the caller still reads the response). Transport errors skip check.
func Tap(base http.RoundTripper, check func(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte)) http.RoundTripper {
	return RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		var reqBody []byte
		if req.Body != nil && req.Body != http.NoBody {
			b, err := io.ReadAll(req.Body)
			_ = req.Body.Close()
			if err != nil {
				return nil, err
			}
			reqBody = b
			req.Body = io.NopCloser(bytes.NewReader(b))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		respBody, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
		check(req, reqBody, resp, respBody)
		return resp, nil
	})
}

// Spooled is c as the fix engine reads it back from its plan's spool:
// through JSON, so only what is serialised (the Ref above all) reaches
// Apply.
func Spooled(t testing.TB, c providers.Change) providers.Change {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("encode the change: %v", err)
	}
	var out providers.Change
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode the change: %v", err)
	}
	return out
}
