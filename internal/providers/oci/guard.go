package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/immutag/immutag/internal/config"
)

// limits are the config's rate and concurrency caps, shared by every
// request of one provider (token fetches included: they are calls too).
type limits struct {
	lim *rate.Limiter
	sem chan struct{}
}

func newLimits(r config.Rate) *limits {
	l := &limits{}
	if r.RequestsPerSecond > 0 {
		l.lim = rate.NewLimiter(rate.Limit(r.RequestsPerSecond), max(1, int(r.RequestsPerSecond+0.999)))
	}
	if r.MaxConcurrent > 0 {
		l.sem = make(chan struct{}, r.MaxConcurrent)
	}
	return l
}

// guard is the innermost transport under go-containerregistry's auth and
// retry layers, so it sees every attempt and every redirect hop.
//
//   - A manifest, tag-list or catalog request never follows a redirect to
//     another origin (scheme, host, port): that answer would not be the
//     registry's, and the credentials must not travel with the request.
//     Registries legitimately send blob downloads to storage elsewhere; such a
//     hop goes out without Authorization or Cookie.
//   - A 429 or 503 with Retry-After (up to maxRetryAfter) is held for that long
//     before go-containerregistry's retry sees it, which has no Retry-After
//     support of its own.
type guard struct {
	base   http.RoundTripper
	origin *url.URL
	limits *limits
	now    func() time.Time
	// sleep waits out a Retry-After (nil = a timer); tests record instead.
	sleep func(ctx context.Context, d time.Duration) error
}

// ErrCrossOriginRedirect is wrapped when a registry API call is redirected
// to another origin.
var ErrCrossOriginRedirect = errors.New("registry API call redirected to another origin")

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil && !sameOrigin(req.URL, req.Response.Request.URL) {
		if !isBlob(req.Response.Request.URL.Path) {
			from := req.Response.Request.URL
			return nil, fmt.Errorf("%w: %s %s://%s%s answered %d to %s://%s (refused)", ErrCrossOriginRedirect,
				req.Method, from.Scheme, from.Host, from.Path, req.Response.StatusCode, req.URL.Scheme, req.URL.Host)
		}
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
		req.Header.Del("Cookie")
	}
	if err := g.acquire(req.Context()); err != nil {
		return nil, err
	}
	resp, err := g.base.RoundTrip(req)
	g.release()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retryAfter(resp.Header, g.clock()); ok && d > 0 && d <= maxRetryAfter {
			if err := g.wait(req.Context(), d); err != nil {
				resp.Body.Close()
				return nil, err
			}
		}
	}
	return resp, nil
}

func (g *guard) wait(ctx context.Context, d time.Duration) error {
	if g.sleep != nil {
		return g.sleep(ctx, d)
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

func (g *guard) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

func (g *guard) acquire(ctx context.Context) error {
	if g.limits == nil {
		return nil
	}
	if g.limits.lim != nil {
		if err := g.limits.lim.Wait(ctx); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	if g.limits.sem != nil {
		select {
		case g.limits.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (g *guard) release() {
	if g.limits != nil && g.limits.sem != nil {
		<-g.limits.sem
	}
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(canonicalHost(a), canonicalHost(b))
}

// canonicalHost adds the scheme's default port so https://h and
// https://h:443 are one origin.
func canonicalHost(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if strings.EqualFold(u.Scheme, "https") {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}

// isBlob reports a /v2/<name>/blobs/<digest> path.
func isBlob(p string) bool {
	return strings.HasPrefix(p, "/v2/") && strings.Contains(p, "/blobs/")
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}
