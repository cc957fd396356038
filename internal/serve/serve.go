// Package serve is immutag's long-running mode: scans on a schedule with the
// same engine as `immutag audit`, optional continuous enforcement under the
// same safety rules as `immutag fix --apply`, Prometheus metrics, health and
// readiness probes, the latest report over HTTP, and an ACR webhook receiver
// that locks a pushed tag about a second after the push instead of at the
// next scan.
//
// Shutdown is two-phase. When the context given to Run ends (SIGTERM or
// SIGINT), nothing new starts: no scan, no further change of an enforcement
// pass, no new webhook batch, and the HTTP server stops accepting. Changes
// already running get ShutdownTimeout to finish, so their writes complete
// and are journaled; only then are they cancelled, and the adapters journal
// any write whose outcome is unknown.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// ScanFunc runs one audit engine pass over provs, planning fixes when plan
// is set, and returns the scan with its report's run metadata filled in.
// The CLI supplies it so a scheduled scan is exactly `immutag audit`.
type ScanFunc func(ctx context.Context, provs []providers.Provider, plan bool) (*audit.Scan, error)

// Defaults.
const (
	DefaultListen          = "127.0.0.1:9100"
	DefaultKeep            = 24
	DefaultShutdownTimeout = 25 * time.Second
	DefaultCoalesce        = 500 * time.Millisecond
)

// Options configure a Service.
type Options struct {
	// Providers are the configured adapters; the Service instruments them.
	Providers []providers.Provider
	Scan      ScanFunc
	// Policy decides exemptions for webhook locks, as for fix.
	Policy config.Policy

	Schedule Schedule
	Jitter   time.Duration
	Clock    Clock

	// ReportsDir keeps the last Keep JSON reports.
	ReportsDir string
	Keep       int

	// Enforce applies the planned fixes after each scan.
	Enforce bool
	// Leader, when set, says whether this replica may write: with several
	// replicas, only the leader enforces and locks webhook tags; all of
	// them scan and serve. Nil means this replica always may.
	Leader Leader
	// Journal is the append-only write journal (enforcement and webhook).
	Journal string
	// Concurrency bounds changes applied at once.
	Concurrency int

	// Listen is the HTTP address; Listener, when set, is used instead.
	Listen   string
	Listener net.Listener

	// WebhookSecret enables /webhooks/acr; requests must carry it in the
	// X-Immutag-Webhook-Secret header. Empty disables the endpoint.
	WebhookSecret string
	// ScanTimeout bounds each scan with its enforcement pass (0 = none).
	ScanTimeout time.Duration
	// ReportToken, when set, is the bearer token /report/latest requires.
	// Without it the report (an inventory of every repository and its
	// weakness) is served only on a loopback listener.
	ReportToken string
	// ACRRegistries maps configured login servers to provider names; login
	// servers found by a scan (subscriptions) are added as they are seen.
	ACRRegistries map[string]string
	// Coalesce is how long pushes to one repository are gathered before
	// their tags are locked together (default 500ms).
	Coalesce time.Duration
	// MaxPending bounds tags waiting to be locked; beyond it the webhook
	// answers 503 and ACR retries (default 10000).
	MaxPending int

	// ShutdownTimeout is how long running changes may take to finish after
	// the context ends.
	ShutdownTimeout time.Duration

	// Timeouts bound how long one client may hold a connection; zero
	// fields take the defaults (DefaultTimeouts).
	Timeouts Timeouts

	Log     *slog.Logger
	Now     func() time.Time
	Version string
}

// Timeouts are the HTTP server's limits. A slow or stalled client (a
// slowloris sending headers a byte at a time, a body that never ends) is
// cut off instead of holding a connection and a goroutine forever.
type Timeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultTimeouts suit /metrics scrapes and ACR webhook posts.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 2 * time.Minute, Idle: 2 * time.Minute}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	if t.ReadHeader > 0 {
		d.ReadHeader = t.ReadHeader
	}
	if t.Read > 0 {
		d.Read = t.Read
	}
	if t.Write > 0 {
		d.Write = t.Write
	}
	if t.Idle > 0 {
		d.Idle = t.Idle
	}
	return d
}

// Service is a running `immutag serve`.
type Service struct {
	opts    Options
	log     *slog.Logger
	metrics *Metrics
	hist    *history
	provs   []providers.Provider // instrumented, for scans
	raw     map[string]providers.Provider
	secret  [32]byte
	webhook bool
	queue   *lockQueue
	id      string

	regMu sync.RWMutex
	regs  map[string]string // normalised login server -> provider name

	ready    atomic.Bool
	stopping atomic.Bool

	exposed     atomic.Bool // listening beyond loopback
	journalMu   sync.Mutex
	recoverOnce sync.Once
	journal     *audit.Journal // webhook journal, opened on first use

	// scanDone, when set, is called after each scan's report and metrics
	// are in place (tests).
	scanDone func()
}

// New checks the options and prepares the service; nothing runs until Run.
func New(o Options) (*Service, error) {
	if o.Scan == nil {
		return nil, errors.New("serve: no scan function")
	}
	if o.Schedule == nil {
		return nil, errors.New("serve: no schedule")
	}
	if o.ReportsDir == "" {
		return nil, errors.New("serve: no reports directory")
	}
	if o.Enforce && o.Journal == "" {
		return nil, errors.New("serve: --enforce needs a journal")
	}
	if o.WebhookSecret != "" && o.Journal == "" {
		return nil, errors.New("serve: the ACR webhook needs a journal")
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.Coalesce < 0 {
		o.Coalesce = 0
	} else if o.Coalesce == 0 {
		o.Coalesce = DefaultCoalesce
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 10000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = audit.DefaultConcurrency
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Now == nil {
		o.Now = o.Clock.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	hist, err := newHistory(o.ReportsDir, o.Keep)
	if err != nil {
		return nil, err
	}
	s := &Service{
		opts:    o,
		log:     o.Log,
		metrics: NewMetrics(o.Version),
		hist:    hist,
		raw:     map[string]providers.Provider{},
		regs:    map[string]string{},
		id:      newID(),
	}
	for _, p := range o.Providers {
		s.provs = append(s.provs, Instrument(p, s.metrics, "enforce"))
		s.raw[p.Name()] = p
	}
	for login, prov := range o.ACRRegistries {
		if n := NormalizeLogin(login); n != "" {
			s.regs[n] = prov
		}
	}
	if o.WebhookSecret != "" {
		s.webhook = true
		s.secret = sha256.Sum256([]byte(o.WebhookSecret))
	}
	s.queue = newLockQueue(o.Coalesce, o.MaxPending, o.Concurrency, s.metrics.pending, s.lockBatch)
	s.metrics.reg.MustRegister(s.leaderGauge())
	return s, nil
}

// Handler is the HTTP API: /metrics, /healthz, /readyz, /report/latest and
// /webhooks/acr.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /report/latest", s.handleLatest)
	mux.HandleFunc("/webhooks/acr", s.handleACRWebhook)
	return mux
}

func (s *Service) handleReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case s.stopping.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "shutting down")
	case !s.ready.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "first scan not finished")
	default:
		fmt.Fprintln(w, "ready")
	}
}

func (s *Service) handleLatest(w http.ResponseWriter, r *http.Request) {
	switch tok := s.opts.ReportToken; {
	case tok != "":
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="immutag"`)
			http.Error(w, "unauthorized: /report/latest needs the bearer token named by --report-token-env", http.StatusUnauthorized)
			return
		}
	case s.exposed.Load():
		http.Error(w, "/report/latest is off: this service listens beyond loopback and no --report-token-env is set", http.StatusForbidden)
		return
	}
	path := s.hist.latestPath()
	if path == "" {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "no report yet: the first scan has not finished", http.StatusServiceUnavailable)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.log.Error("open latest report", "path", path, "error", err)
		http.Error(w, "latest report unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "latest report unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// Run serves HTTP and runs the schedule until ctx ends, then shuts down
// gracefully (see the package doc). It returns nil after a clean shutdown.
func (s *Service) Run(ctx context.Context) error {
	ln := s.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.opts.Listen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", s.opts.Listen, err)
		}
	}
	if !IsLoopback(ln.Addr().String()) {
		s.exposed.Store(true)
		report := "off (it needs --report-token-env when bound beyond loopback)"
		if s.opts.ReportToken != "" {
			report = "bearer token required"
		}
		webhook := "off"
		if s.webhook {
			webhook = "shared secret required"
		}
		s.log.Warn("listening beyond loopback: anyone who can reach this address can read /metrics (open, Prometheus convention: repository counts per provider and scope, scan status), /healthz and /readyz",
			"listen", ln.Addr().String(), "report_latest", report, "webhooks_acr", webhook)
	}

	// soft ends with ctx, or earlier when the listener or the schedule
	// fails: nothing new starts after it. hard ends ShutdownTimeout later:
	// writes already running get that long to finish and be journaled.
	soft, stopSoft := context.WithCancel(ctx)
	defer stopSoft()
	hard, stopHard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHard()
	go func() {
		select {
		case <-soft.Done():
		case <-hard.Done():
			return
		}
		t := time.NewTimer(s.opts.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			stopHard()
		case <-hard.Done():
		}
	}()

	to := s.opts.Timeouts.withDefaults()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: to.ReadHeader,
		ReadTimeout:       to.Read,
		WriteTimeout:      to.Write,
		IdleTimeout:       to.Idle,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// serveErr and runErr are written before wg.Done and read after wg.Wait.
	var (
		wg               sync.WaitGroup
		serveErr, runErr error
	)
	// Before serving: a webhook batch must see these contexts.
	s.queue.start(soft, hard)
	wg.Add(2)
	go func() {
		defer wg.Done()
		err := srv.Serve(ln)
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("http server: %w", err)
			stopSoft()
		}
	}()
	s.log.Info("serving", "listen", ln.Addr().String(), "schedule", s.opts.Schedule.String(), "jitter", s.opts.Jitter,
		"enforce", s.opts.Enforce, "webhook", s.webhook, "reports_dir", s.opts.ReportsDir)

	sched := &Scheduler{
		Schedule: s.opts.Schedule,
		Jitter:   s.opts.Jitter,
		Clock:    s.opts.Clock,
		Job:      func(ctx context.Context) { s.scanOnce(ctx, hard) },
		OnSkip: func(n int) {
			s.metrics.skipped.Add(float64(n))
			s.log.Warn("scan took longer than the schedule; skipped runs", "skipped", n)
		},
		OnWait: func(at time.Time) { s.log.Info("next scan", "at", at.Format(time.RFC3339)) },
	}
	go func() {
		defer wg.Done()
		if err := sched.Run(soft); err != nil {
			runErr = err
			stopSoft()
		}
	}()

	<-soft.Done()
	s.stopping.Store(true)
	s.metrics.ready.Set(0)
	s.log.Info("shutting down: no new scans, changes or webhook batches; running writes may finish", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(hard, s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	// Waits for the running scan and its enforcement pass.
	wg.Wait()
	s.queue.stop()
	if dropped := s.queue.wait(); dropped > 0 {
		s.log.Warn("webhook tags not locked before shutdown; the next scan with --enforce will lock them", "tags", dropped)
	}
	s.journalMu.Lock()
	if s.journal != nil {
		if err := s.journal.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("close journal: %w", err)
		}
		s.journal = nil
	}
	s.journalMu.Unlock()
	if hard.Err() != nil {
		s.log.Warn("shutdown timeout reached: running writes were cancelled; an interrupted write is journaled with its outcome unknown")
	}
	if serveErr != nil {
		return serveErr
	}
	return runErr
}

// scanOnce runs one scan, the enforcement pass when enabled, writes the
// report and updates the metrics.
func (s *Service) scanOnce(soft, hard context.Context) {
	if s.scanDone != nil {
		defer s.scanDone()
	}
	start := s.opts.Now()
	if s.opts.ScanTimeout > 0 {
		// Past the limit the scan stops like at shutdown: nothing new
		// starts, writes in flight finish under hard and are journaled.
		var cancel context.CancelFunc
		soft, cancel = context.WithTimeoutCause(soft, s.opts.ScanTimeout, errScanTimeout)
		defer cancel()
	}
	sc, err := s.opts.Scan(soft, s.provs, s.opts.Enforce)
	if err != nil {
		if errors.Is(context.Cause(soft), errScanTimeout) {
			s.metrics.scanFailed()
			s.log.Error("scan stopped: --timeout reached before every scope was read; no report for this scan", "timeout", s.opts.ScanTimeout, "duration", s.opts.Now().Sub(start))
			return
		}
		if soft.Err() != nil {
			s.log.Info("scan interrupted by shutdown")
			return
		}
		s.metrics.scanFailed()
		s.log.Error("scan failed", "error", err, "duration", s.opts.Now().Sub(start))
		return
	}
	rep := sc.Report
	defer rep.Close()
	defer sc.Changes.Close()
	s.learnRegistries(rep)
	if s.opts.Enforce && !s.leads() {
		s.log.Info("enforcement skipped: another replica is the leader", "run_id", rep.Run.ID)
	} else if s.opts.Enforce {
		rep.Changes = audit.NewSpool[audit.ChangeRecord]()
		applied := 0
		s.enforce(soft, hard, sc.Changes, rep.Run.ID, func(rec audit.ChangeRecord) {
			if rec.Writes > 0 {
				applied++
			}
			_ = rep.Changes.Add(rec)
		})
		if sorted, err := audit.SortedChanges(rep.Changes); err != nil {
			s.log.Error("order the change records (the report lists them as they completed)", "error", err)
		} else {
			rep.Changes = sorted
		}
		rep.Run.FinishedAt = s.opts.Now().UTC()
		s.metrics.observePreFix(rep.Summary)
		if applied > 0 && soft.Err() == nil {
			// Publish what the registries say now, not the drift the pass
			// just fixed: read them again, keep this pass's change records.
			if post := s.reread(soft, rep); post != nil {
				defer post.Close()
				rep = post
			}
		}
	}
	path, err := s.hist.write(rep)
	if err != nil {
		s.log.Error("write report", "error", err)
	}
	s.metrics.observeReport(rep)
	if path != "" && !s.stopping.Load() {
		s.ready.Store(true)
		s.metrics.ready.Set(1)
	}
	sm := rep.Summary
	s.log.Info("scan finished", "run_id", rep.Run.ID, "repositories", sm.Repositories, "compliant", sm.Compliant,
		"drift", sm.Drift, "exempt", sm.Exempt, "error", sm.Error, "scope_errors", sm.ScopeErrors,
		"duration", rep.Run.FinishedAt.Sub(rep.Run.StartedAt), "report", path)
}

// reread scans again after an enforcement pass wrote something and returns
// the post-fix report carrying pre's run and change records, or nil (pre
// stays the published state) when the scan fails.
func (s *Service) reread(ctx context.Context, pre *audit.Report) *audit.Report {
	sc, err := s.opts.Scan(ctx, s.provs, false)
	if err != nil {
		s.log.Warn("re-read after enforcement failed; publishing the pre-fix state", "run_id", pre.Run.ID, "error", err)
		return nil
	}
	if sc.Changes != nil {
		sc.Changes.Close()
	}
	post := sc.Report
	post.Run = pre.Run
	post.Run.FinishedAt = s.opts.Now().UTC()
	post.Changes, pre.Changes = pre.Changes, nil
	return post
}

// learnRegistries remembers the ACR login servers a scan listed, so
// webhook events for registries found through subscriptions are accepted.
func (s *Service) learnRegistries(r *audit.Report) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	for _, sc := range r.Scopes {
		if sc.Kind != providers.KindACR || sc.Status != "ok" {
			continue
		}
		if n := NormalizeLogin(sc.Scope); n != "" {
			if _, ok := s.regs[n]; !ok {
				s.regs[n] = sc.Provider
			}
		}
	}
}

// registryProvider finds the provider configured for a login server and
// returns the login server as configured; an explicit :443 is the same
// registry as none.
func (s *Service) registryProvider(host string) (login, provider string, ok bool) {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	login = NormalizeLogin(host)
	if provider, ok = s.regs[login]; ok {
		return login, provider, true
	}
	if bare, had443 := strings.CutSuffix(login, ":443"); had443 {
		if provider, ok = s.regs[bare]; ok {
			return bare, provider, true
		}
	}
	return login, "", false
}

// NormalizeLogin returns the lower-case bare login server for
// "MyReg.azurecr.io", "https://myreg.azurecr.io/" or "host:port", or ""
// when s is not one.
func NormalizeLogin(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimRight(s, "/")
	if s == "" || strings.ContainsAny(s, "/ ?#@") {
		return ""
	}
	return strings.ToLower(s)
}

// IsLoopback reports whether a listen address only accepts local
// connections ("127.0.0.1:9100", "[::1]:9100", "localhost:9100").
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errScanTimeout is the cause of a scan context that reached ScanTimeout.
var errScanTimeout = errors.New("scan timeout")
