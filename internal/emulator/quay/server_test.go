package quay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/testutil"
)

const tok = "test-token"

func newTest(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Options{Token: tok})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func call(t *testing.T, hs *httptest.Server, method, path, token, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, b := testutil.Send(t, hs.Client(), method, hs.URL+path, body, func(req *http.Request) {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	})
	var out map[string]any
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func TestAuth(t *testing.T) {
	s, hs := newTest(t)
	s.AddOrg("acme")
	for _, token := range []string{"", "wrong"} {
		code, body, _ := call(t, hs, "GET", "/api/v1/repository?namespace=acme", token, "")
		if code != 401 || body["error_type"] != "invalid_token" {
			t.Errorf("token %q: got %d %v, want 401 invalid_token", token, code, body)
		}
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/repository?namespace=acme", tok, ""); code != 200 {
		t.Errorf("right token: got %d", code)
	}
}

func TestPagination(t *testing.T) {
	s, hs := newTest(t)
	s.AddOrg("acme")
	s.AddOrg("other")
	for i := range 250 {
		if err := s.AddRepo("acme", fmt.Sprintf("r%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	seen, pages, next := map[string]bool{}, 0, ""
	for {
		path := "/api/v1/repository?namespace=acme"
		if next != "" {
			path += "&next_page=" + next
		}
		code, body, _ := call(t, hs, "GET", path, tok, "")
		if code != 200 {
			t.Fatalf("page %d: %d %v", pages, code, body)
		}
		pages++
		for _, r := range body["repositories"].([]any) {
			seen[r.(map[string]any)["name"].(string)] = true
		}
		n, _ := body["next_page"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if pages != 3 || len(seen) != 250 {
		t.Errorf("got %d pages, %d repos; want 3, 250", pages, len(seen))
	}
	// A cursor is bound to its namespace.
	if code, _, _ := call(t, hs, "GET", "/api/v1/repository?namespace=other&next_page="+next, tok, ""); code != 400 {
		t.Errorf("foreign cursor: got %d, want 400", code)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/repository", tok, ""); code != 400 {
		t.Errorf("no namespace: got %d, want 400", code)
	}
}

func TestPoliciesAndEnforcement(t *testing.T) {
	s, hs := newTest(t)
	s.AddOrg("acme")
	s.AddUser("alice")
	if err := s.AddRepo("acme", "api", "latest", "v1"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/organization/alice", tok, ""); code != 404 {
		t.Errorf("user as org: got %d, want 404", code)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/users/alice", tok, ""); code != 200 {
		t.Errorf("user: got %d, want 200", code)
	}
	ctx := t.Context()
	if err := s.PushTag(ctx, "acme", "api", "latest"); err != nil {
		t.Fatalf("push before policy: %v", err)
	}
	code, body, _ := call(t, hs, "POST", "/api/v1/organization/acme/immutabilitypolicy/", tok, `{"tagPattern":"v.*","tagPatternMatches":true}`)
	if code != 201 || body["uuid"] == "" {
		t.Fatalf("create: %d %v", code, body)
	}
	code, body, _ = call(t, hs, "POST", "/api/v1/organization/acme/immutabilitypolicy/", tok, `{"tagPattern":"v.*"}`)
	if code != 400 || !strings.Contains(body["detail"].(string), "same tag_pattern") {
		t.Errorf("duplicate: %d %v", code, body)
	}
	if code, _, _ := call(t, hs, "POST", "/api/v1/organization/acme/immutabilitypolicy/", tok, `{"tagPattern":"("}`); code != 400 {
		t.Errorf("bad regex: %d", code)
	}
	if err := s.PushTag(ctx, "acme", "api", "v1"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("push over v1: %v, want ErrTagImmutable", err)
	}
	if err := s.PushTag(ctx, "acme", "api", "latest"); err != nil {
		t.Errorf("push over latest: %v", err)
	}
	// Full match: "v.*" does not cover "xv1".
	if err := s.PushTag(ctx, "acme", "api", "xv1"); err != nil {
		t.Fatal(err)
	}
	if err := s.PushTag(ctx, "acme", "api", "xv1"); err != nil {
		t.Errorf("push over xv1: %v", err)
	}
	code, body, _ = call(t, hs, "GET", "/api/v1/repository/acme/api/tag/?onlyActiveTags=true", tok, "")
	if code != 200 {
		t.Fatalf("tags: %d", code)
	}
	imm := map[string]bool{}
	for _, tg := range body["tags"].([]any) {
		m := tg.(map[string]any)
		imm[m["name"].(string)] = m["immutable"].(bool)
	}
	if !imm["v1"] || imm["latest"] || imm["xv1"] {
		t.Errorf("immutable flags: %v", imm)
	}
}

func TestFeatureOffDenyAndFaults(t *testing.T) {
	s, hs := newTest(t)
	s.AddOrg("acme")
	s.AddOrg("old")
	if err := s.AddRepo("old", "x", "latest"); err != nil {
		t.Fatal(err)
	}
	s.SetFeatureFor("old", false)
	if code, _, _ := call(t, hs, "GET", "/api/v1/organization/old/immutabilitypolicy/", tok, ""); code != 404 {
		t.Errorf("feature off org: %d, want 404", code)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/repository/old/x/immutabilitypolicy/", tok, ""); code != 404 {
		t.Errorf("feature off repo: %d, want 404", code)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/organization/acme/immutabilitypolicy/", tok, ""); code != 200 {
		t.Errorf("feature on: %d, want 200", code)
	}
	s.SetFeature(false)
	if code, _, _ := call(t, hs, "GET", "/api/v1/organization/acme/immutabilitypolicy/", tok, ""); code != 404 {
		t.Errorf("instance feature off: %d, want 404", code)
	}
	s.SetFeature(true)
	s.Deny("acme", true)
	if code, body, _ := call(t, hs, "GET", "/api/v1/repository?namespace=acme", tok, ""); code != 403 || body["error_type"] != "insufficient_scope" {
		t.Errorf("denied: %d %v", code, body)
	}
	if code, _, _ := call(t, hs, "GET", "/api/v1/repository?namespace=old", tok, ""); code != 200 {
		t.Errorf("other namespace: %d", code)
	}
	s.faults.Set(emulator.Faults{ThrottleRate: 1, RetryAfter: 2e9})
	code, _, h := call(t, hs, "GET", "/api/v1/repository?namespace=old", tok, "")
	if code != 429 || h.Get("Retry-After") != "2" {
		t.Errorf("throttle: %d Retry-After %q", code, h.Get("Retry-After"))
	}
	if s.calls.Get("listRepos") < 3 {
		t.Errorf("calls not counted: %v", s.calls.Snapshot())
	}
}

func TestDemo(t *testing.T) {
	d, err := startDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := d.Provider()
	if p.Kind != "quay" || p.Endpoint == "" || d.Env()[p.Credentials.TokenEnv] == "" {
		t.Fatalf("provider %+v env %v", p, d.Env())
	}
	ns, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(t.Context(), ns, repo, tag); err != nil {
		t.Errorf("overwrite target must be mutable before the fix: %v", err)
	}
	if _, err := d.AddOrgPolicy(ns, ".*", true); err != nil {
		t.Fatal(err)
	}
	if err := d.PushTag(t.Context(), ns, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("after policy: %v, want ErrTagImmutable", err)
	}
}
