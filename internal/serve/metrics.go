package serve

import (
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/immutag/immutag/internal/audit"
	"github.com/immutag/immutag/internal/providers"
)

// Metric names (contract for dashboards and examples/prometheus/alerts.yaml).
const (
	MetricRepositories        = "immutag_repositories"
	MetricRepositoriesPreFix  = "immutag_repositories_before_enforcement"
	MetricScopeErrors         = "immutag_scope_errors"
	MetricScans               = "immutag_scans_total"
	MetricScanErrors          = "immutag_scan_errors_total"
	MetricScanDuration        = "immutag_scan_duration_seconds"
	MetricLastScan            = "immutag_last_scan_timestamp_seconds"
	MetricLastSuccessfulScan  = "immutag_last_successful_scan_timestamp_seconds"
	MetricScansSkipped        = "immutag_scans_skipped_total"
	MetricFixesApplied        = "immutag_fixes_applied_total"
	MetricACRTagsLocked       = "immutag_acr_tags_locked_total"
	MetricAPICalls            = "immutag_api_calls_total"
	MetricAPIThrottles        = "immutag_api_throttles_total"
	MetricWebhookEvents       = "immutag_webhook_events_total"
	MetricTagOverwrites       = "immutag_tag_overwrites_total"
	MetricWebhookPending      = "immutag_webhook_pending_tags"
	MetricBuildInfo           = "immutag_build_info"
	MetricReady               = "immutag_ready"
	webhookResultQueued       = "queued"
	webhookResultIgnoredReg   = "ignored_registry"
	webhookResultIgnoredEvent = "ignored_action"
	webhookResultIgnoredTag   = "ignored_no_tag"
	webhookResultExempt       = "ignored_exempt"
	webhookResultUnauthorized = "unauthorized"
	webhookResultTooLarge     = "too_large"
	webhookResultInvalid      = "invalid"
	webhookResultBusy         = "rejected_busy"
	webhookResultNotLeader    = "rejected_not_leader"
)

var statuses = []audit.Status{audit.StatusCompliant, audit.StatusDrift, audit.StatusExempt, audit.StatusError}

// Metrics holds immutag's Prometheus collectors on a registry of its own, so
// nothing registered globally by a library leaks into /metrics.
type Metrics struct {
	reg *prometheus.Registry

	repositories   *prometheus.GaugeVec
	preFix         *prometheus.GaugeVec
	scopeErrors    *prometheus.GaugeVec
	scans          *prometheus.CounterVec
	scanErrors     *prometheus.CounterVec
	scanDuration   prometheus.Gauge
	lastScan       prometheus.Gauge
	lastSuccessful prometheus.Gauge
	skipped        prometheus.Counter
	fixes          *prometheus.CounterVec
	acrLocked      *prometheus.CounterVec
	apiCalls       *prometheus.CounterVec
	apiThrottles   *prometheus.CounterVec
	webhook        *prometheus.CounterVec
	overwrites     *prometheus.CounterVec
	pending        prometheus.Gauge
	ready          prometheus.Gauge
}

// NewMetrics registers every collector on a new registry.
func NewMetrics(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.repositories = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricRepositories,
		Help: "Repositories in the latest report, by provider and status (compliant, drift, exempt, error)."},
		[]string{"provider", "status"})
	m.preFix = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricRepositoriesPreFix,
		Help: "With --enforce: repositories by provider and status as the scan found them, before the fixes of that pass (" + MetricRepositories + " is read again after them)."},
		[]string{"provider", "status"})
	m.scopeErrors = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricScopeErrors,
		Help: "Scopes (account/region, project, registry, namespace) the latest scan could not list completely, by provider."},
		[]string{"provider"})
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricScans,
		Help: "Scans run, by result: complete, incomplete (something could not be read) or failed (no report)."},
		[]string{"result"})
	m.scanErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricScanErrors,
		Help: "Errors met by scans, by type: scope (a scope could not be listed), repository (a setting could not be read), scan (the scan produced no report)."},
		[]string{"type"})
	m.scanDuration = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricScanDuration,
		Help: "Duration of the latest completed scan, enforcement included (report run.finished_at - run.started_at)."})
	m.lastScan = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastScan,
		Help: "Unix time the latest scan finished, complete or not (report run.finished_at)."})
	m.lastSuccessful = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricLastSuccessfulScan,
		Help: "Unix time the latest scan that read every scope and repository finished (0 until one has)."})
	m.skipped = prometheus.NewCounter(prometheus.CounterOpts{Name: MetricScansSkipped,
		Help: "Scheduled scans skipped because the previous scan was still running."})
	m.fixes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFixesApplied,
		Help: "Fixes made by --enforce, by provider and result (verified, verify-failed, failed, not-applied)."},
		[]string{"provider", "result"})
	m.acrLocked = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricACRTagsLocked,
		Help: "ACR tags locked (writeEnabled=false), by provider and source (enforce sweep or webhook)."},
		[]string{"provider", "source"})
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricAPICalls,
		Help: "Registry API operations as seen by immutag's engine, by provider and call: list_scopes, list_scope, plan, and every write an adapter reports " +
			"(by API name). One operation may be several HTTP requests (pages, retries, token exchanges) that are not visible here."},
		[]string{"provider", "call"})
	m.apiThrottles = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricAPIThrottles,
		Help: "Operations seen by the engine that ended throttled (after the adapter's own retries), by provider. Throttled answers an adapter retried successfully are not visible here."},
		[]string{"provider"})
	m.webhook = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricWebhookEvents,
		Help: "ACR webhook requests, by result: queued, ignored_registry (registry not in config), ignored_action, ignored_no_tag, ignored_exempt, unauthorized, too_large, invalid, rejected_busy, rejected_not_leader."},
		[]string{"result"})
	m.overwrites = prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricTagOverwrites,
		Help: "Tags seen pointing at a new digest since the ledger last saw them (serve --record), by provider: overwrite evidence."},
		[]string{"provider"})
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricWebhookPending,
		Help: "Pushed ACR tags waiting to be locked."})
	m.ready = prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricReady,
		Help: "1 once the first scan has completed, 0 before and while shutting down."})
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricBuildInfo,
		Help: "Build information.", ConstLabels: prometheus.Labels{"version": version}})
	info.Set(1)
	m.reg.MustRegister(m.repositories, m.preFix, m.scopeErrors, m.scans, m.scanErrors, m.scanDuration, m.lastScan,
		m.lastSuccessful, m.skipped, m.fixes, m.acrLocked, m.apiCalls, m.apiThrottles, m.webhook, m.overwrites, m.pending,
		m.ready, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"complete", "incomplete", "failed"} {
		m.scans.WithLabelValues(r)
	}
	for _, t := range []string{"scope", "repository", "scan"} {
		m.scanErrors.WithLabelValues(t)
	}
	return m
}

// Registry is the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observePreFix keeps the counts a scan found before enforcement fixed
// anything, as their own metric.
func (m *Metrics) observePreFix(s audit.Summary) {
	m.preFix.Reset()
	for prov, c := range s.ByProvider {
		for _, st := range statuses {
			m.preFix.WithLabelValues(prov, string(st)).Set(float64(countOf(c, st)))
		}
	}
}

// observeReport sets the gauges from a finished report and counts its errors.
func (m *Metrics) observeReport(r *audit.Report) {
	// Reset, so a provider removed from the config stops being reported.
	m.repositories.Reset()
	m.scopeErrors.Reset()
	for prov, c := range r.Summary.ByProvider {
		for _, s := range statuses {
			m.repositories.WithLabelValues(prov, string(s)).Set(float64(countOf(c, s)))
		}
		m.scopeErrors.WithLabelValues(prov).Set(0)
		m.overwrites.WithLabelValues(prov).Add(0)
	}
	for _, o := range r.Overwrites {
		m.overwrites.WithLabelValues(o.Provider).Inc()
	}
	for _, sc := range r.Scopes {
		if sc.Status != "ok" {
			m.scopeErrors.WithLabelValues(sc.Provider).Inc()
		}
	}
	m.scanErrors.WithLabelValues("scope").Add(float64(r.Summary.ScopeErrors))
	m.scanErrors.WithLabelValues("repository").Add(float64(r.Summary.Error))
	m.scanDuration.Set(r.Run.FinishedAt.Sub(r.Run.StartedAt).Seconds())
	finished := float64(r.Run.FinishedAt.UnixNano()) / 1e9
	m.lastScan.Set(finished)
	if r.Summary.Incomplete() {
		m.scans.WithLabelValues("incomplete").Inc()
	} else {
		m.scans.WithLabelValues("complete").Inc()
		m.lastSuccessful.Set(finished)
	}
}

func (m *Metrics) scanFailed() {
	m.scans.WithLabelValues("failed").Inc()
	m.scanErrors.WithLabelValues("scan").Inc()
}

func countOf(c audit.Counts, s audit.Status) int {
	switch s {
	case audit.StatusCompliant:
		return c.Compliant
	case audit.StatusDrift:
		return c.Drift
	case audit.StatusExempt:
		return c.Exempt
	case audit.StatusError:
		return c.Error
	}
	return 0
}

func (m *Metrics) fixResult(rec audit.ChangeRecord) {
	state := rec.State
	if rec.Verified {
		state = "verified"
	}
	m.fixes.WithLabelValues(rec.Provider, state).Inc()
}

// call counts one operation and, when it failed throttled, a throttle.
func (m *Metrics) call(provider, call string, err error) {
	m.apiCalls.WithLabelValues(provider, call).Inc()
	if err != nil && errors.Is(err, providers.ErrThrottled) {
		m.apiThrottles.WithLabelValues(provider).Inc()
	}
}

// write counts one write an adapter reported to its Observer and reports
// whether it was throttled.
func (m *Metrics) write(c providers.Change, w providers.WriteRecord, source string) (throttled bool) {
	call := w.Call
	if call == "" {
		call = "write"
	}
	m.apiCalls.WithLabelValues(c.Provider, call).Inc()
	if w.Err != "" {
		// The Observer only carries the error text; adapters render typed
		// throttling errors starting with "throttled" (providers.APIError).
		if throttledText(w.Err) {
			m.apiThrottles.WithLabelValues(c.Provider).Inc()
			return true
		}
		return false
	}
	if c.Kind == providers.KindACR {
		m.acrLocked.WithLabelValues(c.Provider, source).Inc()
	}
	return false
}

// throttledText recognises throttling in an error message: "throttled ..."
// (providers.APIError), AWS ThrottlingException, or a bare HTTP 429.
func throttledText(s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(s, "throttl") || strings.Contains(s, "too many requests") || strings.Contains(s, "http 429")
}

func (m *Metrics) webhookEvent(result string) { m.webhook.WithLabelValues(result).Inc() }
