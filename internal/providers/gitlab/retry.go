package gitlab

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/immutag/immutag/internal/providers/httpapi"
)

// client-go retries through go-retryablehttp, whose CheckRetry and Backoff
// it lets a caller replace. Its own check retries a transport error only
// when it happened before the request was written (a dial error), so a
// connection reset on a listing failed the scope at once, and its backoff
// ignores Retry-After. The adapter plugs in the shared REST client's rules
// instead (httpapi.Transient, httpapi.RetryableStatus, httpapi.RetryAfter,
// the same exponential backoff with jitter), so GitLab retries exactly
// what the other REST kinds retry, as often (DefaultMaxRetries).

// call is what the retry check knows of one API call: whether it may be
// sent again after a failure that may have reached the server, and how
// many of its attempts found nothing listening.
type call struct {
	idempotent bool
	refused    int // go-retryablehttp runs one call's attempts in sequence
}

type callKey struct{}

// begin marks ctx as one call (idempotent: a read, a REST GET or a GraphQL
// query, safe to send again) and bounds it, every retry and wait included,
// by httpapi.DefaultCallTimeout as the shared client bounds its calls.
func begin(ctx context.Context, idempotent bool) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, callKey{}, &call{idempotent: idempotent})
	return context.WithTimeout(ctx, httpapi.DefaultCallTimeout)
}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// checkRetry is the go-retryablehttp CheckRetry of the adapter's client.
// Returning false hands the last answer or error to client-go as is.
func (p *Provider) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	c := callOf(ctx)
	if c == nil {
		// A call that did not go through begin is treated as a write.
		c = &call{}
	}
	if err != nil {
		switch {
		case httpapi.UnknownHost(err):
			return false, nil
		case httpapi.Refused(err):
			// Nothing was sent, so any call may be repeated, but an endpoint
			// where nothing listens is an outage to report, not to wait out.
			c.refused++
			if c.refused > httpapi.MaxRefusedRetries {
				return false, nil
			}
		case !httpapi.Transient(err) || !(c.idempotent || isGet(err)):
			return false, nil
		}
		p.log.LogAttrs(ctx, slog.LevelWarn, "http retry after transport error",
			slog.String("endpoint", p.base), slog.String("error", err.Error()))
		return true, nil
	}
	idem := c.idempotent || (resp.Request != nil && resp.Request.Method == http.MethodGet)
	if !httpapi.RetryableStatus(resp.StatusCode, idem) {
		return false, nil
	}
	if d, ok := p.advertised(resp.Header); ok && d > httpapi.DefaultMaxRetryAfter {
		// Longer than immutag waits for one call: the error carries the
		// server's value (apiError reads Retry-After) instead of a stall.
		return false, nil
	}
	return true, nil
}

// isGet reports a transport error of a GET (net/http names the method in
// the *url.Error it returns).
func isGet(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && ue.Op == "Get"
}

// backoff is the go-retryablehttp Backoff: the server's advertised wait
// (Retry-After, or RateLimit-Reset once the limit is spent), else
// exponential from httpapi.DefaultBaseBackoff with equal jitter, capped by
// Options.Retry.MaxBackoff or httpapi.DefaultMaxBackoff.
func (p *Provider) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := p.advertised(resp.Header); ok {
			return d
		}
	}
	ceiling := httpapi.DefaultMaxBackoff
	if mb := p.opts.Retry.MaxBackoff; mb > 0 {
		ceiling = mb
	}
	d := min(httpapi.DefaultBaseBackoff, ceiling)
	for i := 0; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// advertised is the wait the server asks for, if any.
func (p *Provider) advertised(h http.Header) (time.Duration, bool) {
	if d, ok := httpapi.RetryAfter(h, p.now()); ok {
		return d, true
	}
	return rateLimitReset(h, p.now())
}

// rateLimitReset reads GitLab's RateLimit-Reset (a unix time) when
// RateLimit-Remaining says the limit is spent: GitLab sends these, not
// the X-RateLimit-* pair httpapi.RetryAfter knows.
func rateLimitReset(h http.Header, now time.Time) (time.Duration, bool) {
	if h.Get("RateLimit-Remaining") != "0" {
		return 0, false
	}
	hh := http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": h.Values("RateLimit-Reset")}
	return httpapi.RetryAfter(hh, now)
}

func (p *Provider) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}
