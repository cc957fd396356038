package faultmatrix

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Operation classes a fixture assigns to the requests it sees.
const (
	opToken = "token" // sign-in, token exchange, STS
	opList  = "list"  // the scope's repository listing
	opMeta  = "meta"  // other scope-level reads (org lookup, project rules, PTC rules)
	opRepo  = "repo"  // a read about one repository
	opWrite = "write" // a change
	opOther = "other"
)

// wire is one request as a fixture classifies it.
type wire struct {
	Scope string // scope name as the report shows it; "" for sign-in and other calls
	Op    string
	Repo  string
}

// action answers one request in place of (or around) the emulator.
type action func(w http.ResponseWriter, r *http.Request, up http.Handler)

// rule injects action into the requests that match, after letting skip of
// them through, for times requests (0 = every one after skip).
type rule struct {
	match func(wire) bool
	skip  int
	times int
	do    action

	seen int
}

// proxy is a reverse proxy in front of one HTTP emulator that classifies,
// counts and, by rule, corrupts what goes over the wire.
type proxy struct {
	srv      *httptest.Server
	up       http.Handler
	classify func(*http.Request) wire
	done     chan struct{}

	mu     sync.Mutex
	rules  []*rule
	counts map[wire]int
	active int       // requests being served
	last   time.Time // when the latest one started
	// creds collects every credential seen on the wire (Authorization
	// values and tokens in token answers), for the leak tests.
	creds map[string]bool
}

// newProxy starts a proxy to target; tr is the transport towards the
// emulator (nil = default).
func newProxy(t *testing.T, target string, tr http.RoundTripper, classify func(*http.Request) wire) *proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	if tr != nil {
		rp.Transport = tr
	}
	// The emulator's own answer (a 502 here means the proxy failed) must
	// never be confused with an injected fault, so errors are loud.
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			t.Logf("proxy to %s: %s %s: %v", target, r.Method, r.URL.Path, err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	p := &proxy{up: rp, classify: classify, counts: map[wire]int{}, creds: map[string]bool{}, done: make(chan struct{})}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		close(p.done)
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

func (p *proxy) URL() string { return p.srv.URL }

// add installs a rule.
func (p *proxy) add(r *rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
}

// count returns how many requests matched m (faulted or not).
func (p *proxy) count(m func(wire) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for w, c := range p.counts {
		if m(w) {
			n += c
		}
	}
	return n
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wi := p.classify(r)
	var do action
	p.mu.Lock()
	p.active++
	p.last = time.Now()
	defer func() {
		p.mu.Lock()
		p.active--
		p.mu.Unlock()
	}()
	p.counts[wi]++
	p.tapLocked(r)
	for _, ru := range p.rules {
		if !ru.match(wi) {
			continue
		}
		n := ru.seen
		ru.seen++
		if n >= ru.skip && (ru.times == 0 || n < ru.skip+ru.times) {
			do = ru.do
			break
		}
	}
	p.mu.Unlock()
	if do == nil && wi.Op == opToken {
		do = rewrite(func(_ *http.Request, st int, _ http.Header, b []byte) (int, []byte) {
			p.tapToken(b)
			return st, b
		})
	}
	if do == nil {
		p.up.ServeHTTP(w, r)
		return
	}
	do(w, r, p.up)
}

// idle waits until no request is being served (a call the client gave up
// on may still be on its way to the emulator), or fails after d.
func (p *proxy) idle(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		// Quiet for a while, not just idle now: a request the client sent
		// before it gave up may still sit in the accept queue.
		p.mu.Lock()
		n, quiet := p.active, time.Since(p.last)
		p.mu.Unlock()
		if n == 0 && quiet > 200*time.Millisecond {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy still serving %d request(s) after %s", n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tapLocked records the credentials a request carries.
func (p *proxy) tapLocked(r *http.Request) {
	scheme, val, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || len(val) < 8 {
		return
	}
	p.creds[val] = true
	if strings.EqualFold(scheme, "basic") {
		if raw, err := base64.StdEncoding.DecodeString(val); err == nil {
			if _, pw, ok := strings.Cut(string(raw), ":"); ok && len(pw) >= 8 {
				p.creds[pw] = true
			}
		}
	}
}

// tapToken records the tokens in a token endpoint's answer.
func (p *proxy) tapToken(body []byte) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range []string{"access_token", "token", "refresh_token"} {
		if s, ok := m[k].(string); ok && len(s) >= 8 {
			p.creds[s] = true
		}
	}
}

// credentials returns what tapLocked and tapToken saw.
func (p *proxy) credentials() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.creds))
	for c := range p.creds {
		out = append(out, c)
	}
	return out
}

// Matchers.

func on(scope, op string) func(wire) bool {
	return func(w wire) bool { return w.Scope == scope && w.Op == op }
}

func onRepo(scope, repo string) func(wire) bool {
	return func(w wire) bool { return w.Scope == scope && w.Op == opRepo && w.Repo == repo }
}

func inScope(scope string) func(wire) bool {
	return func(w wire) bool { return w.Scope == scope }
}

func onOp(op string) func(wire) bool { return func(w wire) bool { return w.Op == op } }

// Actions.

// respond answers with a fixed status, headers and body.
func respond(status int, h http.Header, body []byte) action {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		for k, vs := range h {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// reset drops the TCP connection with an RST and no answer.
func reset() action {
	return func(w http.ResponseWriter, _ *http.Request, _ http.Handler) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("proxy: response writer cannot hijack")
		}
		c, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// stall never answers: it holds the request until the client gives up
// (its per-attempt timeout) or the test ends.
func (p *proxy) stall() action {
	return func(_ http.ResponseWriter, r *http.Request, _ http.Handler) {
		// The server only watches for the client hanging up once the body
		// is read (ECR's calls are POSTs).
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-p.done:
		}
	}
}

// rewrite lets the emulator answer, then hands status, headers and body to
// fn before they go back to the client.
func rewrite(fn func(r *http.Request, status int, h http.Header, body []byte) (int, []byte)) action {
	return func(w http.ResponseWriter, r *http.Request, up http.Handler) {
		r.Header.Del("Accept-Encoding")
		reqBody := peekBody(r)
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, r)
		// fn may read the request (a cursor in a JSON body) once more.
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		res := rec.Result()
		body, _ := io.ReadAll(res.Body)
		status, body := fn(r, res.StatusCode, res.Header, body)
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// then runs fn (a side effect such as revoking tokens at the emulator)
// and lets the request through.
func then(fn func()) action {
	return func(w http.ResponseWriter, r *http.Request, up http.Handler) {
		fn()
		up.ServeHTTP(w, r)
	}
}

// peekBody reads a request body and puts it back.
func peekBody(r *http.Request) []byte {
	if r.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// evil is a server on another origin that must never be contacted: a
// pagination link pointing at it would carry credentials off the API.
type evil struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newEvil(t *testing.T) *evil {
	e := &evil{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits = append(e.hits, r.Method+" "+r.URL.String()+" auth="+strconv.FormatBool(r.Header.Get("Authorization") != ""))
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *evil) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.hits...)
}
