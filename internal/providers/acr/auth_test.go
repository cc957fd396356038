package acr

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPredictScope(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/acr/v1/_catalog", "registry:catalog:*"},
		{"GET", "/acr/v1/team%2Fapp/_tags", "repository:team/app:metadata_read"},
		{"PATCH", "/acr/v1/team%2Fapp/_tags/v1", "repository:team/app:metadata_write"},
		{"GET", "/acr/v1/app", "repository:app:metadata_read"},
		{"DELETE", "/acr/v1/a%2Fb%2Fc/_tags/x", "repository:a/b/c:delete"},
		{"GET", "/v2/", ""},
		{"GET", "/acr/v1/", ""},
	} {
		if got := predictScope(c.method, c.path); got != c.want {
			t.Errorf("predictScope(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestChallengeParse(t *testing.T) {
	h := `Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:a/b:metadata_read,metadata_write",error="insufficient_scope"`
	got := challenge(h)
	if got["realm"] != "https://r.azurecr.io/oauth2/token" || got["service"] != "r.azurecr.io" ||
		got["scope"] != "repository:a/b:metadata_read,metadata_write" || got["error"] != "insufficient_scope" {
		t.Fatalf("challenge = %v", got)
	}
	if len(challenge("Basic")) != 0 {
		t.Fatal("empty challenge parsed to something")
	}
}

func TestJWTExpiry(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	payload := base64.RawStdEncoding.EncodeToString([]byte(`{"exp":` + itoa(exp) + `}`))
	got := jwtExpiry("h."+payload+".s", time.Minute)
	if d := time.Unix(exp, 0).Sub(got); d < 59*time.Second || d > 61*time.Second {
		t.Fatalf("expiry margin = %v", d)
	}
	if d := time.Until(jwtExpiry("opaque", 5*time.Minute)); d < 4*time.Minute {
		t.Fatalf("opaque token default = %v", d)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type countingSource struct {
	calls atomic.Int64
	gate  chan struct{}
	err   error
}

func (c *countingSource) fetch(ctx context.Context, _, scope string) (string, time.Time, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if c.err != nil {
		return "", time.Time{}, c.err
	}
	return "tok-" + scope, time.Now().Add(time.Hour), nil
}

func TestTokenCacheSharesFetches(t *testing.T) {
	src := &countingSource{gate: make(chan struct{})}
	c := newTokenCache(src, "svc")
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := c.get(t.Context(), "s"); err != nil || tok != "tok-s" {
				t.Errorf("get = %q %v", tok, err)
			}
		}()
	}
	close(src.gate) // goroutines arriving before or after this share one fetch
	wg.Wait()
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	c.invalidate("s", "tok-s")
	if _, err := c.get(t.Context(), "s"); err != nil || src.calls.Load() != 2 {
		t.Fatalf("invalidate did not force a fetch: %d %v", src.calls.Load(), err)
	}
	// Failures are not cached; memory stays bounded.
	bad := &countingSource{err: errors.New("boom")}
	cb := newTokenCache(bad, "svc")
	for range 2 {
		if _, err := cb.get(t.Context(), "s"); err == nil {
			t.Fatal("error lost")
		}
	}
	if bad.calls.Load() != 2 {
		t.Fatalf("failed fetch was cached")
	}
	for i := range maxCachedScopes * 3 {
		_, _ = c.get(t.Context(), "scope-"+itoa(int64(i+1)))
	}
	if len(c.m) > maxCachedScopes {
		t.Fatalf("cache grew to %d entries", len(c.m))
	}
}
