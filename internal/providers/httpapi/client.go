// Package httpapi is the small REST layer shared by the adapters of
// registries without an official Go SDK (Docker Hub, Quay, Harbor, ACR
// extras).
//
// One Client talks to one API base URL and gives every call the same
// behaviour: a per-host rate limit and concurrency cap, bounded retries with
// exponential backoff and jitter on 408/429/5xx and transient network
// errors (honouring Retry-After and Docker Hub's X-Retry-After), a typed
// *providers.APIError carrying the API's own message, optional
// authentication with one refresh on 401, a per-attempt timeout, TLS options
// from config, pagination helpers that refuse foreign next links and stop on
// loops, and a debug transport that never logs credentials.
//
// Typical use:
//
//	c, err := httpapi.New(httpapi.Options{BaseURL: "https://hub.docker.com", Auth: a, Logger: log})
//	if err != nil { ... } // bad base URL or ca_file
//	var repo repoInfo
//	err := c.DoJSON(ctx, http.MethodGet, "/v2/namespaces/acme/repositories/app", nil, &repo)
//
// Errors returned by Do and DoJSON wrap a *providers.APIError whenever the
// server answered with a non-2xx status; use errors.As or providers.KindOf.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultMaxRetries  = 5
	DefaultBaseBackoff = 250 * time.Millisecond
	DefaultMaxBackoff  = 15 * time.Second
	// DefaultMaxRetryAfter caps one server-advertised wait: a longer
	// Retry-After fails the call (with the server's value in the message)
	// rather than holding the scope for minutes per call.
	DefaultMaxRetryAfter = 30 * time.Second
	DefaultTimeout       = 60 * time.Second
	// DefaultIdleTimeout cuts an attempt whose answer stops arriving (a
	// slow-loris body, stalled headers) after this long without a byte.
	DefaultIdleTimeout = 20 * time.Second
	// DefaultCallTimeout bounds one call, every retry and wait included.
	DefaultCallTimeout = 3 * time.Minute
)

// MaxBodyBytes bounds how much of one response body is read (32 MiB): a
// longer body fails the call. It is a variable only so that the
// fault-injection tests can exercise the limit without inflating 32 MiB in
// every cell; nothing else changes it.
var MaxBodyBytes int64 = 32 << 20

// Options configure a Client. Only BaseURL is required.
type Options struct {
	// BaseURL is the API root (scheme, host and optional path prefix), e.g.
	// https://hub.docker.com or http://127.0.0.1:4711/api/v2.0.
	BaseURL string
	// Provider names the config entry in errors (a refused redirect).
	Provider string
	// HTTPClient, when set, supplies the transport (tests, shared pools). Its
	// Timeout is left alone; Options.Timeout applies per attempt. When TLS is
	// set and its Transport is nil or an *http.Transport, a clone with the TLS
	// settings applied is used; any other RoundTripper is used as is.
	HTTPClient *http.Client
	// TLS carries ca_file (added to the system roots) and insecure_skip_verify.
	TLS config.TLS
	// RequestsPerSecond limits attempts per host (0 = unlimited). Retries count.
	RequestsPerSecond float64
	// Burst is the rate limiter burst (0 = max(1, ceil(RequestsPerSecond))).
	Burst int
	// MaxConcurrent caps in-flight attempts per host (0 = unlimited).
	MaxConcurrent int
	// MaxRetries is how many times a failed attempt is retried (0 =
	// DefaultMaxRetries, negative = never retry). The single re-send after a
	// successful auth refresh does not count.
	MaxRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff (tests shorten them).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest server-advertised wait the client accepts;
	// a longer Retry-After fails the call with a throttled error instead of
	// stalling the run (0 = DefaultMaxRetryAfter).
	MaxRetryAfter time.Duration
	// Timeout bounds each attempt, body read included (0 = DefaultTimeout,
	// negative = none).
	Timeout time.Duration
	// IdleTimeout cuts an attempt after this long without receiving a byte
	// (0 = DefaultIdleTimeout, negative = none).
	IdleTimeout time.Duration
	// CallTimeout bounds one call with all its retries and waits (0 =
	// DefaultCallTimeout, negative = none).
	CallTimeout time.Duration
	// Logger receives retry notices and, at debug level, one line per HTTP
	// exchange with credentials redacted (nil = discard).
	Logger *slog.Logger
	// Auth sets credentials on each request (nil = anonymous).
	Auth Authenticator
	// UserAgent is sent on every request ("" = "immutag").
	UserAgent string
	// Now is the clock used to interpret HTTP-date and unix-time retry
	// headers (nil = time.Now).
	Now func() time.Time
	// Sleep waits between attempts (nil = a context-aware timer). Tests
	// inject it to record waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client performs JSON REST calls against one base URL. It is safe for
// concurrent use.
type Client struct {
	o    Options
	base *url.URL
	hc   *http.Client
	log  *slog.Logger

	mu    sync.Mutex
	hosts map[string]*Limiter
}

// New returns a Client for opts. It makes no network call; the error is a
// configuration problem (bad BaseURL, unreadable ca_file).
func New(opts Options) (*Client, error) {
	c := &Client{o: opts, hosts: map[string]*Limiter{}}
	c.log = opts.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.o.MaxRetries == 0 {
		c.o.MaxRetries = DefaultMaxRetries
	}
	if c.o.MaxRetries < 0 {
		c.o.MaxRetries = 0
	}
	if c.o.BaseBackoff <= 0 {
		c.o.BaseBackoff = DefaultBaseBackoff
	}
	if c.o.MaxBackoff <= 0 {
		c.o.MaxBackoff = DefaultMaxBackoff
	}
	if c.o.MaxBackoff < c.o.BaseBackoff {
		c.o.MaxBackoff = c.o.BaseBackoff
	}
	if c.o.MaxRetryAfter <= 0 {
		c.o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.o.Timeout == 0 {
		c.o.Timeout = DefaultTimeout
	}
	if c.o.IdleTimeout == 0 {
		c.o.IdleTimeout = DefaultIdleTimeout
	}
	if c.o.CallTimeout == 0 {
		c.o.CallTimeout = DefaultCallTimeout
	}
	if c.o.UserAgent == "" {
		c.o.UserAgent = "immutag"
	}
	if c.o.Now == nil {
		c.o.Now = time.Now
	}
	if c.o.Sleep == nil {
		c.o.Sleep = sleepCtx
	}
	u, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("api base url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("api base url %q: want http(s)://host[/path]", opts.BaseURL)
	}
	c.base = u
	rt, err := transportFor(opts.HTTPClient, opts.TLS)
	if err != nil {
		return nil, err
	}
	// Redirects are refused whatever the given client does: a registry
	// API never needs one, and following it would send the credentials (or
	// a sign-in body) to another origin and take its answer as data.
	hc := &http.Client{}
	if opts.HTTPClient != nil {
		cp := *opts.HTTPClient
		hc = &cp
	}
	hc.Transport = &DebugTransport{Base: rt, Logger: c.log}
	c.hc = NoRedirectClient(hc, opts.Provider)
	return c, nil
}

// BaseURL returns the parsed base URL.
func (c *Client) BaseURL() *url.URL {
	u := *c.base
	return &u
}

// Request is one API call.
type Request struct {
	Method string
	// Path is relative to BaseURL ("/v2/namespaces/acme/repositories"; its
	// segments escaped by the caller), or an absolute URL, which must have
	// the scheme and host of BaseURL (credentials never go to another host).
	Path string
	// Query is merged into the URL's query.
	Query url.Values
	// Header is added to the request (Accept and Content-Type default to JSON).
	Header http.Header
	// Body is sent as JSON unless it is a []byte or json.RawMessage (sent as is).
	Body any
	// NoAuth skips the Authenticator (token endpoints).
	NoAuth bool
	// Idempotent marks a POST or PATCH as safe to retry after a transient
	// failure (e.g. Docker Hub's PATCH immutabletags, a token request).
	// GET, HEAD, OPTIONS, PUT and DELETE are idempotent already. Other
	// requests are retried only on 429 and 503, which say the server did not
	// process them.
	Idempotent bool
	// SamePath, for Pages, makes a next link that changes the URL's path an
	// error: APIs that page one listing by its query alone (Docker Hub's
	// next, Harbor's Link header) never change it, and a link that resolves
	// to a new path on every page is a listing that never ends.
	SamePath bool
}

// Response is a successful (2xx) answer.
type Response struct {
	// Method is the request's method (for errors naming the endpoint).
	Method string
	Status int
	Header http.Header
	Body   []byte
	// URL is the request URL (redirects are never followed).
	URL *url.URL
}

// JSON decodes the body into out (nil = discard). Every call that decodes
// expects data, so an empty body is an error naming the endpoint: a proxy
// or a broken server answering 200 with nothing must not read as an empty
// listing.
func (r *Response) JSON(out any) error {
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(r.Body)) == 0 {
		return fmt.Errorf("%s: the answer (HTTP %d) has an empty body, expected JSON", r.endpoint(), r.Status)
	}
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decode response of %s: %w", RedactURL(r.URL), err)
	}
	return nil
}

// ErrMissingField is wrapped when a 2xx answer lacks a field the call needs.
var ErrMissingField = errors.New("required field missing")

// JSONRequired is JSON for answers that must be a JSON object carrying each
// of fields (present and not null). A 200 with an error body such as
// {"detail": "rate limit exceeded"} or {"error_message": ...} fails naming
// the endpoint, the missing field and what the API said, instead of reading
// as "no repositories" or "no policy".
func (r *Response) JSONRequired(out any, fields ...string) error {
	if err := r.JSON(out); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		return fmt.Errorf("%s: the answer (HTTP %d) is not a JSON object: %w", r.endpoint(), r.Status, err)
	}
	for _, f := range fields {
		if v, ok := m[f]; !ok || string(bytes.TrimSpace(v)) == "null" {
			said := ""
			if _, s := ParseErrorBody(r.Body); s != "" {
				said = "; the API said: " + s
			}
			return fmt.Errorf("%s: %w: the answer (HTTP %d) has no %q%s", r.endpoint(), ErrMissingField, r.Status, f, said)
		}
	}
	return nil
}

func (r *Response) endpoint() string {
	m := r.Method
	if m == "" {
		m = http.MethodGet
	}
	return m + " " + RedactURL(r.URL)
}

// DoJSON sends body (nil for none) as JSON and decodes a 2xx answer into
// out (nil to discard). Non-2xx answers return an error wrapping
// *providers.APIError.
func (c *Client) DoJSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Do(ctx, Request{Method: method, Path: path, Body: body})
	if err != nil {
		return err
	}
	return resp.JSON(out)
}

// Do performs req with rate limiting, retries and auth refresh. It returns
// the Response for a 2xx status; any other status yields an error wrapping
// *providers.APIError, transport failures an error wrapping the cause.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	u, err := c.resolve(req.Path)
	if err != nil {
		return nil, err
	}
	if len(req.Query) > 0 {
		q := u.Query()
		for k, vs := range req.Query {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		u.RawQuery = q.Encode()
	}
	var body []byte
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		body = b
	case json.RawMessage:
		body = b
	default:
		if body, err = json.Marshal(b); err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", req.Method, u.Path, err)
		}
	}
	idem := req.Idempotent || isIdempotent(req.Method)
	what := req.Method + " " + u.Path
	if c.o.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.o.CallTimeout, fmt.Errorf("%s: %w: no answer within %s, retries included", what, ErrCallTimeout, c.o.CallTimeout))
		defer cancel()
	}

	refreshed := false
	for attempt := 0; ; attempt++ {
		resp, rerr := c.attempt(ctx, req, u, body)
		if rerr != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", what, context.Cause(ctx))
			}
			if !idem || !transient(rerr) || attempt >= c.o.MaxRetries || (refused(rerr) && attempt >= maxRefusedRetries) {
				return nil, fmt.Errorf("%s: %w", what, rerr)
			}
			wait := c.backoff(attempt)
			// At warn: an endpoint that does not answer is what an operator
			// must see, with where it is (the logger carries the provider).
			c.log.LogAttrs(ctx, slog.LevelWarn, "http retry after transport error",
				slog.String("endpoint", u.Scheme+"://"+u.Host), slog.String("call", what), slog.Int("attempt", attempt+1),
				slog.Duration("wait", wait), slog.String("error", rerr.Error()))
			if err := c.o.Sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("%s: %w", what, stopCause(ctx, err))
			}
			continue
		}
		if resp.Status >= 200 && resp.Status < 300 {
			return &resp.Response, nil
		}
		apiErr := newAPIError(resp.Status, resp.Body)
		if resp.Status == http.StatusUnauthorized && !refreshed && !req.NoAuth && c.o.Auth != nil {
			refreshed = true
			ok, ferr := c.o.Auth.Refresh(ctx, resp.Header, resp.sentAuth)
			if ferr != nil {
				return nil, fmt.Errorf("%s: refresh credentials after 401: %w", what, ferr)
			}
			if ok {
				attempt-- // the re-send after a refresh is not a retry
				continue
			}
		}
		if !retryableStatus(resp.Status, idem) {
			return nil, fmt.Errorf("%s: %w", what, apiErr)
		}
		wait, advertised := retryAfter(resp.Header, c.o.Now())
		if advertised {
			apiErr.RetryAfter = wait
			if wait > c.o.MaxRetryAfter {
				return nil, fmt.Errorf("%s: the server asks to wait %s (%s), more than the %s immutag waits for one call: %w",
					what, wait.Round(time.Second), retryHeaderText(resp.Header), c.o.MaxRetryAfter, apiErr)
			}
		} else {
			wait = c.backoff(attempt)
		}
		if attempt >= c.o.MaxRetries {
			return nil, fmt.Errorf("%s: giving up after %d attempts: %w", what, attempt+1, apiErr)
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "http retry",
			slog.String("call", what), slog.Int("status", resp.Status), slog.Int("attempt", attempt+1), slog.Duration("wait", wait))
		if err := c.o.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w", what, stopCause(ctx, err))
		}
	}
}

// stopCause is why a wait between attempts ended early: the call's own
// budget running out is ErrCallTimeout (its cause), not the bare "context
// deadline exceeded" the timer reports, which reads like the caller's.
func stopCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// attemptResponse is a Response plus what the authenticator needs on 401.
type attemptResponse struct {
	Response
	sentAuth string
}

func (c *Client) attempt(ctx context.Context, req Request, u *url.URL, body []byte) (*attemptResponse, error) {
	// Credentials are set before taking a rate/concurrency slot: a token
	// fetch goes through this same client and must not wait for a slot its
	// caller holds.
	authz := http.Header{}
	if !req.NoAuth && c.o.Auth != nil {
		probe, _ := http.NewRequestWithContext(ctx, req.Method, u.String(), nil)
		if err := c.o.Auth.Authorize(ctx, probe); err != nil {
			return nil, &authError{err}
		}
		authz = probe.Header
	}
	release, err := c.limits(u.Host).Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	actx := ctx
	if c.o.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
	}
	// The idle timer runs from the send until the body is read, reset by
	// every byte: a server that trickles or stalls is cut off long before
	// the attempt's own timeout.
	var idle *idleTimer
	if c.o.IdleTimeout > 0 {
		var cancel context.CancelCauseFunc
		actx, cancel = context.WithCancelCause(actx)
		defer cancel(nil)
		idle = newIdleTimer(c.o.IdleTimeout, cancel)
		defer idle.stop()
	}
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, u.String(), rdr)
	if err != nil {
		return nil, err
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("User-Agent", c.o.UserAgent)
	for k, vs := range authz {
		hr.Header[k] = vs
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if cause := context.Cause(actx); errors.Is(cause, ErrIdleTimeout) {
			return nil, cause
		}
		return nil, err
	}
	defer resp.Body.Close()
	var rbody io.Reader = resp.Body
	if idle != nil {
		idle.touch()
		rbody = idle.reader(resp.Body)
	}
	// One byte past the limit, so that a body over it fails instead of
	// being cut into something that may still parse.
	b, err := io.ReadAll(io.LimitReader(rbody, MaxBodyBytes+1))
	if err != nil {
		if cause := context.Cause(actx); errors.Is(cause, ErrIdleTimeout) {
			return nil, fmt.Errorf("read response: %w", cause)
		}
		return nil, fmt.Errorf("read response: %w", err)
	}
	if int64(len(b)) > MaxBodyBytes {
		return nil, bodyTooLarge(MaxBodyBytes)
	}
	return &attemptResponse{
		Response: Response{Method: req.Method, Status: resp.StatusCode, Header: resp.Header, Body: b, URL: resp.Request.URL},
		sentAuth: hr.Header.Get("Authorization"),
	}, nil
}

// authError marks a failure to obtain credentials: never retried here (the
// authenticator has its own client and retries).
type authError struct{ err error }

func (e *authError) Error() string { return "credentials: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

func (c *Client) limits(host string) *Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.hosts[host]
	if !ok {
		l = NewLimiter(config.Rate{RequestsPerSecond: c.o.RequestsPerSecond, MaxConcurrent: c.o.MaxConcurrent}, c.o.Burst)
		c.hosts[host] = l
	}
	return l
}

// resolve turns a Request.Path into a URL on the base host.
func (c *Client) resolve(p string) (*url.URL, error) {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		u, err := url.Parse(p)
		if err != nil {
			return nil, fmt.Errorf("request url: %w", err)
		}
		if err := c.SameOrigin(u); err != nil {
			return nil, err
		}
		return u, nil
	}
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	u, err := url.Parse(c.base.String() + p)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", p, err)
	}
	return u, nil
}

// ErrForeignURL is wrapped when a URL (a next link, an absolute request
// path) points at another scheme or host than the base URL.
var ErrForeignURL = errors.New("url leaves the api origin")

// SameOrigin returns an error wrapping ErrForeignURL unless u has the
// scheme and host of the base URL.
func (c *Client) SameOrigin(u *url.URL) error {
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return fmt.Errorf("%w: %s://%s is not %s://%s", ErrForeignURL, u.Scheme, u.Host, c.base.Scheme, c.base.Host)
	}
	return nil
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// retryableStatus: 429 and 503 mean "not processed, come back later", safe
// for any method; 408 and other 5xx only for idempotent requests.
func retryableStatus(status int, idempotent bool) bool {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return true
	case status == http.StatusRequestTimeout, status >= 500 && status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported:
		return idempotent
	}
	return false
}

// backoff is exponential with equal jitter: half fixed, half random, so
// concurrent callers spread out but none retries immediately.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.o.BaseBackoff
	for i := 0; i < attempt && d < c.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.o.MaxBackoff)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newAPIError builds the typed error for a non-2xx answer.
func newAPIError(status int, body []byte) *providers.APIError {
	code, msg := ParseErrorBody(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &providers.APIError{Class: ClassForStatus(status), Status: status, Code: code, Message: msg}
}

// ClassForStatus maps an HTTP status to the shared error classes.
func ClassForStatus(status int) providers.ErrorClass {
	switch status {
	case http.StatusNotFound, http.StatusGone:
		return providers.ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return providers.ErrDenied
	case http.StatusTooManyRequests:
		return providers.ErrThrottled
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return providers.ErrUnsupported
	}
	return providers.ErrOther
}

// ErrIdleTimeout is wrapped when an answer stopped arriving for longer than
// the idle timeout; ErrCallTimeout when one call ran out of its budget.
var (
	ErrIdleTimeout = errors.New("idle timeout: the server stopped sending")
	ErrCallTimeout = errors.New("call timeout")
)

// idleTimer cancels an attempt when no byte has arrived for d.
type idleTimer struct {
	d      time.Duration
	t      *time.Timer
	cancel context.CancelCauseFunc
}

func newIdleTimer(d time.Duration, cancel context.CancelCauseFunc) *idleTimer {
	it := &idleTimer{d: d, cancel: cancel}
	it.t = time.AfterFunc(d, func() { cancel(fmt.Errorf("%w for %s", ErrIdleTimeout, d)) })
	return it
}

func (it *idleTimer) touch() { it.t.Reset(it.d) }
func (it *idleTimer) stop()  { it.t.Stop() }

func (it *idleTimer) reader(r io.Reader) io.Reader { return &idleReader{r: r, it: it} }

type idleReader struct {
	r  io.Reader
	it *idleTimer
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.it.touch()
	}
	return n, err
}

// retryHeaderText quotes the header that set a wait, for the error.
func retryHeaderText(h http.Header) string {
	for _, k := range []string{"Retry-After", "X-Retry-After", "X-RateLimit-Reset"} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			if len(v) > 64 {
				v = v[:64]
			}
			return k + ": " + strconv.Quote(v)[1:len(strconv.Quote(v))-1]
		}
	}
	return "advertised"
}
