package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// waits records the delays the client asked for instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// script answers the n-th call (0-based) with fn(n, w, r).
func script(t *testing.T, fn func(n int, w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		fn(n, w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func newTestClient(srv *httptest.Server, w *waits, mod func(*Options)) *Client {
	o := Options{BaseURL: srv.URL, HTTPClient: srv.Client(), Sleep: w.sleep, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		panic(err) // the test servers' URLs are valid
	}
	return c
}

func mustNew(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func okJSON(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"retry-after seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second},
		{"retry-after http date", map[string]string{"Retry-After": now.Add(7 * time.Second).Format(http.TimeFormat)}, 7 * time.Second},
		{"x-retry-after unix time", map[string]string{"X-Retry-After": strconv.FormatInt(now.Add(5*time.Second).Unix(), 10)}, 5 * time.Second},
		{"x-retry-after seconds", map[string]string{"X-Retry-After": "4"}, 4 * time.Second},
		{"ratelimit reset", map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(9*time.Second).Unix(), 10)}, 9 * time.Second},
		{"retry-after wins over x-retry-after", map[string]string{"Retry-After": "2", "X-Retry-After": "8"}, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 0 {
					for k, v := range tc.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				okJSON(w)
			})
			var ws waits
			c := newTestClient(srv, &ws, func(o *Options) { o.Now = func() time.Time { return now } })
			var out struct{ OK bool }
			if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, &out); err != nil {
				t.Fatal(err)
			}
			if !out.OK || calls.Load() != 2 {
				t.Fatalf("ok=%v calls=%d, want true and 2", out.OK, calls.Load())
			}
			if got := ws.all(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("waits = %v, want [%v]", got, tc.want)
			}
		})
	}
}

func TestRetryAfterTooLongFailsThrottled(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.MaxRetryAfter = time.Minute })
	err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil)
	var ae *providers.APIError
	if !errors.As(err, &ae) || ae.Class != providers.ErrThrottled || ae.RetryAfter != time.Hour {
		t.Fatalf("err = %v, want throttled with RetryAfter 1h", err)
	}
	if calls.Load() != 1 || len(ws.all()) != 0 {
		t.Fatalf("calls=%d waits=%v, want one call and no wait", calls.Load(), ws.all())
	}
}

func Test429StormRiddenOut(t *testing.T) {
	const storm = 4
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < storm {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"detail":"Rate limit exceeded","error":false}`))
			return
		}
		okJSON(w)
	})
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.MaxRetries = storm })
	if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil); err != nil {
		t.Fatalf("storm of %d within MaxRetries %d: %v", storm, storm, err)
	}
	if calls.Load() != storm+1 || len(ws.all()) != storm {
		t.Fatalf("calls=%d waits=%d, want %d and %d", calls.Load(), len(ws.all()), storm+1, storm)
	}

	// One more throttled answer than retries allowed: the client gives up
	// with a throttled error carrying the API's message.
	calls.Store(0)
	c = newTestClient(srv, &ws, func(o *Options) { o.MaxRetries = storm - 1 })
	err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil)
	if !errors.Is(err, providers.ErrThrottled) || !strings.Contains(err.Error(), "Rate limit exceeded") {
		t.Fatalf("err = %v, want throttled with the API message", err)
	}
	if calls.Load() != storm {
		t.Fatalf("calls = %d, want %d (1 + MaxRetries)", calls.Load(), storm)
	}
}

func Test5xxThenSuccess(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 0:
			w.WriteHeader(http.StatusBadGateway)
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			okJSON(w)
		}
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	got := ws.all()
	if calls.Load() != 3 || len(got) != 2 {
		t.Fatalf("calls=%d waits=%v", calls.Load(), got)
	}
	// Backoff grows: equal jitter keeps each wait within [d/2, d].
	if got[0] < 500*time.Microsecond || got[0] > time.Millisecond || got[1] < time.Millisecond || got[1] > 2*time.Millisecond {
		t.Fatalf("backoff waits %v outside [0.5ms,1ms],[1ms,2ms]", got)
	}
}

func TestNonIdempotentNotRetriedOn500(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	err := c.DoJSON(t.Context(), http.MethodPost, "/create", map[string]string{"a": "b"}, nil)
	if err == nil || calls.Load() != 1 {
		t.Fatalf("POST 500: err=%v calls=%d, want error after one call", err, calls.Load())
	}
	// Marked idempotent, the same POST is retried.
	calls.Store(0)
	_, err = c.Do(t.Context(), Request{Method: http.MethodPost, Path: "/create", Idempotent: true})
	if err == nil || calls.Load() != int64(DefaultMaxRetries+1) {
		t.Fatalf("idempotent POST 500: err=%v calls=%d, want %d calls", err, calls.Load(), DefaultMaxRetries+1)
	}
}

func TestNonIdempotentRetriedOn503And429(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				w.WriteHeader(status)
				return
			}
			w.WriteHeader(http.StatusCreated)
		})
		var ws waits
		c := newTestClient(srv, &ws, nil)
		resp, err := c.Do(t.Context(), Request{Method: http.MethodPost, Path: "/create", Body: map[string]int{"x": 1}})
		if err != nil || resp.Status != http.StatusCreated || calls.Load() != 2 {
			t.Fatalf("status %d: resp=%v err=%v calls=%d", status, resp, err, calls.Load())
		}
	}
}

func TestBadRequestFailsFastWithAPIMessage(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"errinfo":{},"detail":"invalid regex in rule 2","message":"bad_request"}`))
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil)
	var ae *providers.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *providers.APIError", err)
	}
	if ae.Status != 400 || ae.Class != providers.ErrOther || ae.Message != "invalid regex in rule 2" {
		t.Fatalf("api error = %+v", ae)
	}
	if calls.Load() != 1 || len(ws.all()) != 0 {
		t.Fatalf("calls=%d waits=%v, want fail fast", calls.Load(), ws.all())
	}
}

func TestErrorKinds(t *testing.T) {
	for status, want := range map[int]providers.ErrorClass{
		401: providers.ErrDenied, 403: providers.ErrDenied, 404: providers.ErrNotFound,
		501: providers.ErrUnsupported, 409: providers.ErrOther,
	} {
		srv, _ := script(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		var ws waits
		c := newTestClient(srv, &ws, nil)
		if got := providers.ClassOf(c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil)); got != want {
			t.Errorf("status %d: kind %s, want %s", status, got, want)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	cases := []struct{ body, code, msg string }{
		{`{"errors":[{"code":"NOT_FOUND","message":"project 9 not found"}]}`, "NOT_FOUND", "project 9 not found"},
		{`{"errinfo":{},"detail":"repo gone","message":"not_found"}`, "", "repo gone"},
		{`{"message":"only message"}`, "", "only message"},
		{`{"error_message":"Unauthorized","error_type":"invalid_token"}`, "invalid_token", "Unauthorized"},
		{`{"fields":{"ordering":["bad"]},"text":"Invalid ordering value"}`, "", "Invalid ordering value"},
		{`{"error":"invalid_grant","error_description":"expired"}`, "", "expired"},
		{`{"error":"plain"}`, "", "plain"},
		{`{"detail":"Rate limit exceeded","error":false}`, "", "Rate limit exceeded"},
		{"upstream timed out\nmore", "", "upstream timed out"},
		{`<html>bad gateway</html>`, "", ""},
		{``, "", ""},
	}
	for _, tc := range cases {
		code, msg := ParseErrorBody([]byte(tc.body))
		if code != tc.code || msg != tc.msg {
			t.Errorf("ParseErrorBody(%q) = %q, %q; want %q, %q", tc.body, code, msg, tc.code, tc.msg)
		}
	}
}

func TestCrossHostNextLinkRefused(t *testing.T) {
	var foreignHits atomic.Int64
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignHits.Add(1)
		okJSON(w)
	}))
	defer foreign.Close()
	for name, next := range map[string]string{
		"other host":   foreign.URL + "/v2/items?page=2",
		"other scheme": "", // filled below with https on the same host
	} {
		t.Run(name, func(t *testing.T) {
			var auths atomic.Int64
			srv, _ := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "" {
					auths.Add(1)
				}
				nx := next
				if nx == "" {
					nx = "https://" + r.Host + "/v2/items?page=2"
				}
				_, _ = fmt.Fprintf(w, `{"next":%q}`, nx)
			})
			var ws waits
			c := newTestClient(srv, &ws, func(o *Options) { o.Auth = StaticBearer("s3cret") })
			pages := 0
			err := c.Pages(t.Context(), Request{Path: "/v2/items"}, func(ctx context.Context, p *Response) (string, error) {
				pages++
				var b struct{ Next string }
				return b.Next, p.JSON(&b)
			})
			if !errors.Is(err, ErrForeignURL) {
				t.Fatalf("err = %v, want ErrForeignURL", err)
			}
			if pages != 1 || foreignHits.Load() != 0 {
				t.Fatalf("pages=%d foreign hits=%d, want 1 and 0", pages, foreignHits.Load())
			}
		})
	}
}

func TestPagesFollowsRelativeAndAbsoluteLinks(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "":
			w.Header().Set("Link", `</v2/items?page=2>; rel="next"`)
		case "2":
			w.Header().Set("Link", `</v2/items?page=1>; rel="prev" , <http://`+r.Host+`/v2/items?page=3>; rel="next"`)
		}
		okJSON(w)
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	var seen []string
	err := c.Pages(t.Context(), Request{Path: "/v2/items"}, func(ctx context.Context, p *Response) (string, error) {
		seen = append(seen, p.URL.Query().Get("page"))
		return NextLink(p.Header), nil
	})
	if err != nil || strings.Join(seen, ",") != ",2,3" || calls.Load() != 3 {
		t.Fatalf("err=%v pages=%q calls=%d", err, seen, calls.Load())
	}
}

func TestPagesLoopStopped(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		// Page 2 points back at page 1: a server bug that would loop forever.
		if r.URL.Query().Get("page") == "2" {
			_, _ = fmt.Fprintf(w, `{"next":"http://%s/v2/items?page=1"}`, r.Host)
			return
		}
		_, _ = fmt.Fprintf(w, `{"next":"http://%s/v2/items?page=2"}`, r.Host)
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	err := c.Pages(t.Context(), Request{Path: "/v2/items?page=1"}, func(ctx context.Context, p *Response) (string, error) {
		var b struct{ Next string }
		return b.Next, p.JSON(&b)
	})
	if !errors.Is(err, ErrPageLoop) || calls.Load() != 3 {
		t.Fatalf("err=%v calls=%d, want ErrPageLoop after 3 calls", err, calls.Load())
	}
}

// A relative next link such as "x/items?page=2" resolves to a longer path
// from every page, so no URL repeats: with SamePath the second page's
// different path ends the listing with an error instead of paging for ever.
func TestPagesSamePathStopsAGrowingLink(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, `{"next":"x/items?page=2"}`)
	})
	var ws waits
	c := newTestClient(srv, &ws, nil)
	next := func(ctx context.Context, p *Response) (string, error) {
		var b struct{ Next string }
		if calls.Load() > 50 {
			return "", nil // without SamePath this listing would not end
		}
		return b.Next, p.JSON(&b)
	}
	err := c.Pages(t.Context(), Request{Path: "/v2/items", SamePath: true}, next)
	if !errors.Is(err, ErrPageLoop) || calls.Load() != 1 || !strings.Contains(err.Error(), "not a page of this listing") {
		t.Fatalf("err=%v calls=%d, want ErrPageLoop after the first page", err, calls.Load())
	}
	calls.Store(0)
	if err := c.Pages(t.Context(), Request{Path: "/v2/items"}, next); err != nil || calls.Load() <= 50 {
		t.Fatalf("without SamePath: err=%v calls=%d (the link was followed: the test's premise)", err, calls.Load())
	}
}

func TestCursorLoopStopped(t *testing.T) {
	seq := []string{"a", "b", "c", "a", "z"}
	var got []string
	err := Cursor(t.Context(), func(ctx context.Context, cur string) (string, error) {
		got = append(got, cur)
		next := seq[0]
		seq = seq[1:]
		return next, nil
	})
	if !errors.Is(err, ErrPageLoop) || strings.Join(got, ",") != ",a,b,c" {
		t.Fatalf("err=%v cursors=%q", err, got)
	}
	// Same cursor echoed back.
	err = Cursor(t.Context(), func(ctx context.Context, cur string) (string, error) { return "same", nil })
	if !errors.Is(err, ErrPageLoop) {
		t.Fatalf("echoed cursor: err=%v", err)
	}
	// A clean listing ends.
	n := 0
	err = Cursor(t.Context(), func(ctx context.Context, cur string) (string, error) {
		n++
		if n < 3 {
			return fmt.Sprint("c", n), nil
		}
		return "", nil
	})
	if err != nil || n != 3 {
		t.Fatalf("clean listing: err=%v pages=%d", err, n)
	}
}

func TestDebugOutputRedactsSecrets(t *testing.T) {
	const bearer, queryTok, basicPass = "tok-BEARER-123", "tok-QUERY-456", "pw-BASIC-789"
	srv, _ := script(t, func(n int, w http.ResponseWriter, r *http.Request) { okJSON(w) })
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.Logger = log; o.Auth = StaticBearer(bearer) })
	_, err := c.Do(t.Context(), Request{
		Path:   "/v2/items",
		Query:  map[string][]string{"access_token": {queryTok}, "page": {"2"}},
		Header: http.Header{"Cookie": {"session=" + queryTok}, "X-Api-Key": {queryTok}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c = newTestClient(srv, &ws, func(o *Options) { o.Logger = log; o.Auth = Basic{Username: "robot", Password: basicPass} })
	if err := c.DoJSON(t.Context(), http.MethodGet, "/v2/other", nil, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{bearer, queryTok, basicPass, "cm9ib3Q6"} { // cm9ib3Q6 = base64("robot:")
		if strings.Contains(out, secret) {
			t.Fatalf("debug output leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"/v2/items", "page=2", "/v2/other", `"status":200`, Redacted, `"method":"GET"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("debug output lacks %q:\n%s", want, out)
		}
	}
}

func TestRateLimitRespected(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) { okJSON(w) })
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.RequestsPerSecond = 0.5; o.Burst = 2 })
	// The limiter refuses a wait that would outlive the deadline, so the
	// third call fails without the test sleeping.
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var errs int
	for range 5 {
		if err := c.DoJSON(ctx, http.MethodGet, "/x", nil, nil); err != nil {
			errs++
		}
	}
	if calls.Load() != 2 || errs != 3 {
		t.Fatalf("calls=%d errors=%d, want burst of 2 then 3 refused", calls.Load(), errs)
	}
}

func TestMaxConcurrentPerHost(t *testing.T) {
	var inflight, peak atomic.Int64
	srv, _ := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		cur := inflight.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		okJSON(w)
	})
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.MaxConcurrent = 2 })
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak.Load() > 2 || peak.Load() < 1 {
		t.Fatalf("peak in-flight = %d, want 1..2", peak.Load())
	}
}

func TestUnauthorizedRefreshesOnce(t *testing.T) {
	var minted atomic.Int64
	fetch := func(ctx context.Context) (string, time.Time, error) {
		return fmt.Sprint("token-", minted.Add(1)), time.Time{}, nil
	}
	var valid atomic.Value
	valid.Store("Bearer token-2")
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != valid.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"detail":"token expired"}`))
			return
		}
		okJSON(w)
	})
	var ws waits
	b := NewBearer(fetch, BearerOptions{})
	c := newTestClient(srv, &ws, func(o *Options) { o.Auth = b })
	if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil); err != nil {
		t.Fatalf("401 then refresh: %v", err)
	}
	if calls.Load() != 2 || b.Fetches() != 2 || len(ws.all()) != 0 {
		t.Fatalf("calls=%d fetches=%d waits=%v, want 2, 2, none", calls.Load(), b.Fetches(), ws.all())
	}
	// A server that never accepts: exactly one refresh, then the 401 stands.
	valid.Store("never")
	calls.Store(0)
	err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil)
	if !errors.Is(err, providers.ErrDenied) || !strings.Contains(err.Error(), "token expired") {
		t.Fatalf("err = %v, want denied with the API message", err)
	}
	if calls.Load() != 2 || b.Fetches() != 3 {
		t.Fatalf("calls=%d fetches=%d, want 2 and 3", calls.Load(), b.Fetches())
	}
}

func TestBearerRenewsBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var minted int
	b := NewBearer(func(ctx context.Context) (string, time.Time, error) {
		minted++
		return fmt.Sprint("t", minted), now.Add(10 * time.Minute), nil
	}, BearerOptions{Now: func() time.Time { return now }, Skew: time.Minute})
	tok, _ := b.Token(t.Context())
	now = now.Add(8 * time.Minute)
	tok2, _ := b.Token(t.Context())
	now = now.Add(90 * time.Second) // 9m30s: inside the skew
	tok3, _ := b.Token(t.Context())
	if tok != "t1" || tok2 != "t1" || tok3 != "t2" {
		t.Fatalf("tokens %s %s %s, want t1 t1 t2", tok, tok2, tok3)
	}
	// A stale 401 (for a token already replaced) must not drop the new one.
	if ok, _ := b.Refresh(t.Context(), nil, "Bearer t1"); !ok {
		t.Fatal("refresh declined")
	}
	if tok4, _ := b.Token(t.Context()); tok4 != "t2" {
		t.Fatalf("after stale refresh token = %s, want t2", tok4)
	}
}

func TestBearerShortLivedTokenReused(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var minted int
	b := NewBearer(func(ctx context.Context) (string, time.Time, error) {
		minted++
		return fmt.Sprint("t", minted), now.Add(10 * time.Second), nil
	}, BearerOptions{Now: func() time.Time { return now }}) // default skew: one minute
	// The skew is capped at a fifth of the lifetime, so a 10s token is
	// reused for 8s instead of being minted on every call.
	for range 3 {
		_, _ = b.Token(t.Context())
		now = now.Add(2 * time.Second)
	}
	if minted != 1 {
		t.Fatalf("minted %d tokens in 6s of a 10s lifetime, want 1", minted)
	}
	now = now.Add(3 * time.Second) // 9s: inside the capped skew
	if tok, _ := b.Token(t.Context()); tok != "t2" {
		t.Fatalf("token %s at 9s, want a renewed one", tok)
	}
}

func TestPerAttemptTimeoutRetried(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			<-r.Context().Done() // hang until the client gives up on this attempt
			return
		}
		okJSON(w)
	})
	var ws waits
	c := newTestClient(srv, &ws, func(o *Options) { o.Timeout = 50 * time.Millisecond })
	if err := c.DoJSON(t.Context(), http.MethodGet, "/x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2", calls.Load())
	}
}

func TestForeignAbsolutePathRefused(t *testing.T) {
	srv, calls := script(t, func(n int, w http.ResponseWriter, r *http.Request) { okJSON(w) })
	var ws waits
	c := newTestClient(srv, &ws, nil)
	err := c.DoJSON(t.Context(), http.MethodGet, "http://example.invalid/x", nil, nil)
	if !errors.Is(err, ErrForeignURL) || calls.Load() != 0 {
		t.Fatalf("err=%v calls=%d", err, calls.Load())
	}
}

func TestBadCAFileReported(t *testing.T) {
	c, err := New(Options{BaseURL: "https://127.0.0.1:1", TLS: tlsOpts(t.TempDir() + "/missing.pem")})
	if c != nil || err == nil || !strings.Contains(err.Error(), "ca_file") {
		t.Fatalf("New = %v, %v; want a ca_file error", c, err)
	}
}

func TestBadBaseURLReported(t *testing.T) {
	for _, base := range []string{"ftp://h.example", "h.example", "http://", "http://h.example/%zz"} {
		if c, err := New(Options{BaseURL: base}); c != nil || err == nil || !strings.Contains(err.Error(), "api base url") {
			t.Errorf("New(%q) = %v, %v; want an api base url error", base, c, err)
		}
	}
}

func TestBaseURLPrefixKept(t *testing.T) {
	srv, _ := script(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"path":%q}`, r.URL.EscapedPath())
	})
	var ws waits
	c := mustNew(t, Options{BaseURL: srv.URL + "/api/v2.0/", HTTPClient: srv.Client(), Sleep: ws.sleep})
	var out struct{ Path string }
	if err := c.DoJSON(t.Context(), http.MethodGet, "/projects/a%252Fb", nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.Path != "/api/v2.0/projects/a%252Fb" {
		t.Fatalf("path = %s", out.Path)
	}
}

func tlsOpts(ca string) config.TLS { return config.TLS{CAFile: ca} }

// A refused connection is retried a bounded number of times, each retry
// logged at warn with the endpoint; an unknown host is not retried at all.
func TestUnreachableFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	var logs bytes.Buffer
	w := &waits{}
	c := mustNew(t, Options{BaseURL: "http://" + addr, Sleep: w.sleep, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		MaxRetries: 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	err = c.DoJSON(t.Context(), http.MethodGet, "/v2/", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v", err)
	}
	if n := len(w.all()); n != maxRefusedRetries {
		t.Fatalf("%d retries of a refused connection, want %d", n, maxRefusedRetries)
	}
	if got := strings.Count(logs.String(), "level=WARN"); got != maxRefusedRetries || !strings.Contains(logs.String(), "endpoint=http://"+addr) {
		t.Fatalf("retry logs:\n%s", logs.String())
	}
	if transient(&net.DNSError{Err: "no such host", Name: "registry.invalid", IsNotFound: true}) {
		t.Fatal("an unknown host is retried")
	}
	if !transient(&net.DNSError{Err: "server misbehaving", Name: "registry.example", IsTemporary: true}) {
		t.Fatal("a temporary DNS failure is not retried")
	}
}
