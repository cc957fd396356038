package acrcontract

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func exchange(method, target, body string, status int, respBody string) (*http.Request, []byte, *http.Response, []byte) {
	u, _ := url.Parse("https://127.0.0.1:1" + target)
	req := &http.Request{Method: method, URL: u, Header: http.Header{}}
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}}
	return req, []byte(body), resp, []byte(respBody)
}

// TestCheckerCatchesViolations makes sure the checker can fail: each case
// breaks the spec in one way.
func TestCheckerCatchesViolations(t *testing.T) {
	c := New(t)
	good := []struct {
		method, target, body string
		status               int
		resp                 string
	}{
		{"GET", "/acr/v1/team%2Fapp/_tags?n=2&api-version=2021-07-01", "", 200,
			`{"registry":"r","imageName":"team/app","tags":[{"name":"v1","digest":"sha256:1","createdTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-01T00:00:00Z","changeableAttributes":{"writeEnabled":false}}]}`},
		{"PATCH", "/acr/v1/app/_tags/v1?api-version=2021-07-01", `{"writeEnabled":false,"deleteEnabled":false}`, 200,
			`{"registry":"r","imageName":"app","tag":{"name":"v1","digest":"sha256:1","createdTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-01T00:00:00Z","changeableAttributes":{"writeEnabled":false}}}`},
		{"GET", "/acr/v1/app/_tags/v9", "", 404, `{"errors":[{"code":"TAG_UNKNOWN","message":"no","detail":{"name":"app"}}]}`},
		{"POST", "/oauth2/token", "grant_type=refresh_token&service=r&scope=a&refresh_token=x", 200, `{"access_token":"t"}`},
	}
	for _, g := range good {
		c.Check(exchange(g.method, g.target, g.body, g.status, g.resp))
	}
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("valid traffic flagged: %v", p)
	}
	bad := []struct {
		method, target, body string
		status               int
		resp                 string
	}{
		// tags entries need createdTime and changeableAttributes
		{"GET", "/acr/v1/app/_tags", "", 200, `{"registry":"r","imageName":"app","tags":[{"name":"v1","digest":"d"}]}`},
		// writeEnabled must be a boolean
		{"PATCH", "/acr/v1/app/_tags/v1", `{"writeEnabled":"no"}`, 200,
			`{"registry":"r","imageName":"app","tag":{"name":"v1","digest":"d","createdTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-01T00:00:00Z","changeableAttributes":{}}}`},
		// grant_type outside the enum
		{"POST", "/oauth2/token", "grant_type=magic&service=r&scope=a&refresh_token=x", 200, `{"access_token":"t"}`},
		// an operation the spec does not have
		{"GET", "/acr/v2/nothing", "", 200, `{}`},
	}
	for i, b := range bad {
		before := len(c.Problems())
		c.Check(exchange(b.method, b.target, b.body, b.status, b.resp))
		if len(c.Problems()) == before {
			t.Errorf("bad case %d (%s %s) not flagged", i, b.method, b.target)
		}
	}
}
