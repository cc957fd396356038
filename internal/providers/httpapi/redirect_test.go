package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRedirectsRefused: issue 12 case 1. Every redirect status, for a GET
// with credentials and for a sign-in POST with a body, fails the call with
// an error naming the provider and both URLs, and the other origin never
// sees a request (so neither the Authorization header nor the body).
func TestRedirectsRefused(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hits = append(hits, r.Method+" auth="+r.Header.Get("Authorization")+" body="+string(b))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"token":"evil-token","results":[]}`))
	}))
	defer evil.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, evil.URL+"/steal?access_token=leak-me", status)
			}))
			c := mustNew(t, Options{BaseURL: srv.URL, Provider: "hub-prod", HTTPClient: srv.Client(), Auth: StaticBearer("secret-bearer-value"), MaxRetries: -1})
			req := Request{Method: method, Path: "/v2/auth/token"}
			if method == http.MethodPost {
				req.Body = map[string]string{"identifier": "bot", "secret": "dckr_pat_body_secret"}
			}
			_, err := c.Do(context.Background(), req)
			srv.Close()
			if err == nil {
				t.Fatalf("%d %s: redirect followed without error", status, method)
			}
			if !errors.Is(err, ErrRedirect) {
				t.Errorf("%d %s: error %v does not wrap ErrRedirect", status, method, err)
			}
			msg := err.Error()
			for _, want := range []string{"hub-prod", srv.URL + "/v2/auth/token", evil.URL + "/steal"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%d %s: error %q does not name %q", status, method, msg, want)
				}
			}
			if strings.Contains(msg, "leak-me") {
				t.Errorf("%d %s: error repeats a secret query value: %q", status, method, msg)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) > 0 {
		t.Errorf("the other origin was contacted: %q", hits)
	}
}
