package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// slowLoris answers headers and a first byte, then stalls until the client
// hangs up: issue 12 case 8 held one call for six minutes this way.
func slowLoris(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("{"))
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

func TestIdleTimeoutCutsSlowLoris(t *testing.T) {
	var ws waits
	srv, calls := script(t, func(_ int, w http.ResponseWriter, r *http.Request) { slowLoris(w, r) })
	c := newTestClient(srv, &ws, func(o *Options) { o.IdleTimeout = 50 * time.Millisecond; o.MaxRetries = 2 })
	_, err := c.Do(context.Background(), Request{Path: "/v2/repositories"})
	if !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("error %v, want ErrIdleTimeout", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3 (first try and MaxRetries 2)", n)
	}
}

func TestCallTimeoutBoundsRetries(t *testing.T) {
	srv, _ := script(t, func(_ int, w http.ResponseWriter, r *http.Request) { slowLoris(w, r) })
	// Real sleeps, endless retries: only the call budget can end the call.
	c := mustNew(t, Options{BaseURL: srv.URL, HTTPClient: srv.Client(), IdleTimeout: 20 * time.Millisecond, CallTimeout: 200 * time.Millisecond,
		MaxRetries: 1 << 20, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	_, err := c.Do(context.Background(), Request{Path: "/v2/repositories"})
	if !errors.Is(err, ErrCallTimeout) {
		t.Fatalf("error %v, want ErrCallTimeout", err)
	}
}

// TestRetryAfterOverCapFailsWithServerValue: Retry-After: 100 kept a call
// retrying for ten minutes; past the cap the call fails at once, quoting
// the server's value.
func TestRetryAfterOverCapFailsWithServerValue(t *testing.T) {
	var ws waits
	srv, calls := script(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "100")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c := newTestClient(srv, &ws, func(o *Options) { o.MaxRetryAfter = 0 }) // the default cap
	_, err := c.Do(context.Background(), Request{Path: "/x"})
	if err == nil || !strings.Contains(err.Error(), "Retry-After: 100") || !strings.Contains(err.Error(), DefaultMaxRetryAfter.String()) {
		t.Fatalf("error %v, want the server's Retry-After: 100 and the cap", err)
	}
	if n := calls.Load(); n != 1 || len(ws.all()) != 0 {
		t.Errorf("%d calls and waits %v, want one call and no wait", n, ws.all())
	}
}

// TestCallTimeoutDuringBackoffIsCallTimeout: the budget running out while
// the client waits between attempts is reported as ErrCallTimeout too, not
// as a bare "context deadline exceeded" (it was, one run in a few hundred
// of TestCallTimeoutBoundsRetries).
func TestCallTimeoutDuringBackoffIsCallTimeout(t *testing.T) {
	for _, status := range []int{0, http.StatusServiceUnavailable} {
		srv, _ := script(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			if status == 0 {
				panic(http.ErrAbortHandler) // a transport error
			}
			w.WriteHeader(status)
		})
		c := mustNew(t, Options{BaseURL: srv.URL, HTTPClient: srv.Client(), CallTimeout: 50 * time.Millisecond, MaxRetries: 5,
			Sleep: func(ctx context.Context, _ time.Duration) error { <-ctx.Done(); return ctx.Err() }})
		_, err := c.Do(context.Background(), Request{Path: "/v2/repositories"})
		if !errors.Is(err, ErrCallTimeout) {
			t.Errorf("status %d: error %v, want ErrCallTimeout", status, err)
		}
	}
}
