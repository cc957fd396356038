package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/immutag/immutag/internal/providers/httpapi"
)

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
	base http.RoundTripper
	// timeout bounds the wait for one attempt's response headers (0 = none).
	timeout time.Duration
	origin  *url.URL
	// limits are the config's rate and concurrency caps, shared by every
	// request of one provider (token fetches included: they are calls too).
	limits *httpapi.Limiter
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
	release, err := g.limits.Acquire(req.Context())
	if err != nil {
		return nil, err
	}
	resp, err := g.attempt(req)
	release()
	if err != nil {
		return nil, err
	}
	if key := listKey(req); key != "" && resp.StatusCode == http.StatusOK {
		if err := checkList(req, resp, key); err != nil {
			return nil, err
		}
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

// attempt sends req, giving up when no answer has begun within g.timeout.
// The give-up is an error go-containerregistry retries (it does not retry
// net/http's own header timeout, which reads as a context deadline), and
// the body of an answer that did begin is not cut off.
func (g *guard) attempt(req *http.Request) (*http.Response, error) {
	if g.timeout <= 0 {
		return g.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	var timedOut atomic.Bool
	timer := time.AfterFunc(g.timeout, func() {
		timedOut.Store(true)
		cancel()
	})
	resp, err := g.base.RoundTrip(req.WithContext(ctx))
	timer.Stop()
	if err != nil {
		cancel()
		if timedOut.Load() && req.Context().Err() == nil {
			return nil, &attemptTimeout{method: req.Method, path: req.URL.Path, after: g.timeout}
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// attemptTimeout is one attempt that got no answer in time. It is
// temporary, so the retry layer above sends the request again.
type attemptTimeout struct {
	method, path string
	after        time.Duration
}

func (e *attemptTimeout) Error() string {
	return fmt.Sprintf("%s %s: no answer within %s (attempt timeout)", e.method, e.path, e.after)
}

// Temporary and Timeout make it a retryable net.Error.
func (e *attemptTimeout) Temporary() bool { return true }
func (e *attemptTimeout) Timeout() bool   { return true }

// cancelBody releases the attempt's context once the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
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

// The shared REST client's limit (httpapi.MaxBodyBytes) bounds a catalog
// or tag-list page too, so one setting governs every answer.

// listKey is the field a catalog ("repositories") or tag-list ("tags")
// page must have, or "" for other requests.
func listKey(req *http.Request) string {
	if req.Method != http.MethodGet {
		return ""
	}
	switch p := req.URL.Path; {
	case p == "/v2/_catalog":
		return "repositories"
	case strings.HasPrefix(p, "/v2/") && strings.HasSuffix(p, "/tags/list"):
		return "tags"
	}
	return ""
}

// checkList reads a listing page (up to maxListBody) and refuses one that
// is not the listing: an empty body, or a JSON object without its list (a
// 200 carrying an error, from a proxy or a broken registry) would
// otherwise read as a complete, empty listing. go-containerregistry then
// decodes the page from the buffer.
func checkList(req *http.Request, resp *http.Response, key string) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, httpapi.MaxBodyBytes+1))
	resp.Body.Close()
	what := req.Method + " " + req.URL.Path
	switch {
	case err != nil:
		return fmt.Errorf("%s: read answer: %w", what, err)
	case int64(len(body)) > httpapi.MaxBodyBytes:
		return fmt.Errorf("%s: answer too large (over %d MiB)", what, httpapi.MaxBodyBytes>>20)
	case len(bytes.TrimSpace(body)) == 0:
		return fmt.Errorf("%s: 200 with an empty body, not a listing", what)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("%s: decode json answer: %w", what, err)
	}
	if _, ok := m[key]; !ok {
		return fmt.Errorf("%s: the answer has no %q list, so it is not a listing", what, key)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return nil
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
