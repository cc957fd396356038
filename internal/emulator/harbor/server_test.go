package harbor

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/testutil"
)

func newTest(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Options{Username: "admin", Password: "pw"})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

func do(t *testing.T, hs *httptest.Server, method, path, body string, auth bool) (*http.Response, []byte) {
	t.Helper()
	return testutil.Send(t, hs.Client(), method, hs.URL+path, body, func(req *http.Request) {
		if auth {
			req.SetBasicAuth("admin", "pw")
		}
	})
}

func errCode(b []byte) string {
	var e errorsBody
	_ = json.Unmarshal(b, &e)
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

func TestAuthAndPaging(t *testing.T) {
	s, hs := newTest(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		s.AddProject(n, false)
	}
	resp, b := do(t, hs, "GET", "/api/v2.0/projects", "", false)
	if resp.StatusCode != 401 || errCode(b) != "UNAUTHORIZED" {
		t.Errorf("no auth: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", hs.URL+"/api/v2.0/projects", nil)
	req.SetBasicAuth("admin", "nope")
	if r, err := hs.Client().Do(req); err != nil || r.StatusCode != 401 {
		t.Errorf("wrong password: %v %v", r, err)
	} else {
		r.Body.Close()
	}
	resp, b = do(t, hs, "GET", "/api/v2.0/projects?page=2&page_size=2", "", true)
	var ps []map[string]any
	_ = json.Unmarshal(b, &ps)
	if resp.StatusCode != 200 || len(ps) != 2 || ps[0]["name"] != "c" {
		t.Fatalf("page 2: %d %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get("X-Total-Count"); got != "5" {
		t.Errorf("X-Total-Count %q", got)
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `</api/v2.0/projects?page=1&page_size=2>; rel="prev"`) ||
		!strings.Contains(link, ` , </api/v2.0/projects?page=3&page_size=2>; rel="next"`) {
		t.Errorf("Link %q", link)
	}
	resp, _ = do(t, hs, "GET", "/api/v2.0/projects?page=3&page_size=2", "", true)
	if l := resp.Header.Get("Link"); strings.Contains(l, "next") {
		t.Errorf("last page has next: %q", l)
	}
	if resp, b := do(t, hs, "GET", "/api/v2.0/projects?page_size=101", "", true); resp.StatusCode != 422 {
		t.Errorf("page_size 101: %d %s", resp.StatusCode, b)
	}
	s.faults.Set(emulator.Faults{PageSize: 1})
	resp, b = do(t, hs, "GET", "/api/v2.0/projects?page=1&page_size=100", "", true)
	_ = json.Unmarshal(b, &ps)
	if len(ps) != 1 || !strings.Contains(resp.Header.Get("Link"), "page=2&page_size=1") {
		t.Errorf("capped page: %d items, Link %q", len(ps), resp.Header.Get("Link"))
	}
}

const universal = `{"disabled":false,"action":"immutable","template":"immutable_template","priority":0,
 "tag_selectors":[{"kind":"doublestar","decoration":"matches","pattern":"**"}],
 "scope_selectors":{"repository":[{"kind":"doublestar","decoration":"repoMatches","pattern":"**"}]}}`

func TestRuleLifecycle(t *testing.T) {
	s, hs := newTest(t)
	id := s.AddProject("team", false)
	if err := s.AddRepo("team", "a/b", "latest"); err != nil {
		t.Fatal(err)
	}
	base := "/api/v2.0/projects/" + itoa(id) + "/immutabletagrules"
	resp, b := do(t, hs, "GET", base, "", true)
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" || resp.Header.Get("X-Total-Count") != "0" {
		t.Fatalf("empty list: %d %s", resp.StatusCode, b)
	}
	if err := s.PushTag(t.Context(), "team", "a/b", "latest"); err != nil {
		t.Fatalf("push before rule: %v", err)
	}
	resp, _ = do(t, hs, "POST", base, universal, true)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 201 || !strings.HasPrefix(loc, base+"/") {
		t.Fatalf("create: %d Location %q", resp.StatusCode, loc)
	}
	ruleID := loc[len(base)+1:]
	resp, b = do(t, hs, "POST", base, universal, true)
	if resp.StatusCode != 409 || errCode(b) != "CONFLICT" {
		t.Errorf("duplicate: %d %s", resp.StatusCode, b)
	}
	if err := s.PushTag(t.Context(), "team", "a/b", "latest"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("push after rule: %v", err)
	}
	// Disabled rules stay duplicates: the serialised rule is unchanged.
	body := `{"id":` + ruleID + `,"disabled":true,"action":"immutable","template":"immutable_template",
 "tag_selectors":[{"kind":"doublestar","decoration":"matches","pattern":"v*"}],
 "scope_selectors":{"repository":[{"kind":"doublestar","decoration":"repoMatches","pattern":"**"}]}}`
	if resp, b := do(t, hs, "PUT", base+"/"+ruleID, body, true); resp.StatusCode != 200 {
		t.Fatalf("toggle: %d %s", resp.StatusCode, b)
	}
	r := s.Rules("team")[0]
	if !r.Disabled || r.TagSelectors[0].Pattern != "**" {
		t.Errorf("toggle must change only disabled: %+v", r)
	}
	if err := s.PushTag(t.Context(), "team", "a/b", "latest"); err != nil {
		t.Errorf("push with disabled rule: %v", err)
	}
	if resp, _ := do(t, hs, "POST", base, universal, true); resp.StatusCode != 409 {
		t.Errorf("duplicate of disabled: %d, want 409", resp.StatusCode)
	}
	if resp, b := do(t, hs, "PUT", base+"/"+ruleID, strings.Replace(universal, `"disabled":false`, `"id":999,"disabled":false`, 1), true); resp.StatusCode != 400 {
		t.Errorf("id mismatch: %d %s", resp.StatusCode, b)
	}
	// List omits zero disabled/priority, like go-swagger.
	_, b = do(t, hs, "GET", base, "", true)
	if !strings.Contains(string(b), `"disabled":true`) {
		t.Errorf("list: %s", b)
	}
	s.Deny("team", true)
	if resp, b := do(t, hs, "GET", base, "", true); resp.StatusCode != 403 || errCode(b) != "FORBIDDEN" {
		t.Errorf("deny: %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, hs, "GET", "/api/v2.0/projects/team/repositories", "", true); resp.StatusCode != 403 {
		t.Errorf("deny repos: %d", resp.StatusCode)
	}
	s.Deny("team", false)
	resp, b = do(t, hs, "GET", "/api/v2.0/projects/team/repositories", "", true)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"team/a/b"`) {
		t.Errorf("repos: %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, hs, "GET", "/api/v2.0/projects/999/immutabletagrules", "", true); resp.StatusCode != 404 {
		t.Errorf("missing project: %d", resp.StatusCode)
	}
	s.faults.Set(emulator.Faults{ErrorRate: 1})
	if resp, b := do(t, hs, "GET", base, "", true); resp.StatusCode != 500 || errCode(b) != "UNKNOWN" {
		t.Errorf("fault: %d %s", resp.StatusCode, b)
	}
	if s.calls.Get("CreateImmuRule") != 3 {
		t.Errorf("CreateImmuRule calls %d", s.calls.Get("CreateImmuRule"))
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestImmutableSemantics(t *testing.T) {
	r := NewRule
	dis := r("repoMatches", "**", "matches", "**")
	dis.Disabled = true
	second := r("repoMatches", "nope", "matches", "nope")
	second.TagSelectors = append(second.TagSelectors, Selector{Kind: "doublestar", Decoration: "matches", Pattern: "**"})
	second.ScopeSelectors["repository"] = append(second.ScopeSelectors["repository"], Selector{Kind: "doublestar", Decoration: "repoMatches", Pattern: "**"})
	cases := []struct {
		name      string
		rule      Rule
		repo, tag string
		want      bool
	}{
		{"universal", r("repoMatches", "**", "matches", "**"), "a/b", "x", true},
		{"disabled ignored", dis, "a", "x", false},
		{"only first selectors", second, "a", "x", false},
		{"star stops at slash", r("repoMatches", "*", "matches", "**"), "a/b", "x", false},
		{"repo excludes", r("repoExcludes", "tmp-*", "matches", "**"), "tmp-1", "x", false},
		{"repo excludes other", r("repoExcludes", "tmp-*", "matches", "**"), "app", "x", true},
		{"tag excludes", r("repoMatches", "**", "excludes", "{latest,dev}"), "a", "dev", false},
		{"tag excludes other", r("repoMatches", "**", "excludes", "{latest,dev}"), "a", "v1", true},
		{"full match", r("repoMatches", "**", "matches", "v*"), "a", "xv1", false},
		{"empty pattern", r("repoMatches", "", "matches", ""), "a", "x", true},
	}
	for _, c := range cases {
		if got := Immutable([]Rule{c.rule}, c.repo, c.tag); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestDemo(t *testing.T) {
	d, err := startDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := d.Provider()
	env := d.Env()
	if p.Kind != "harbor" || env[p.Credentials.UsernameEnv] == "" || env[p.Credentials.PasswordEnv] == "" {
		t.Fatalf("provider %+v", p)
	}
	proj, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(t.Context(), proj, repo, tag); err != nil {
		t.Errorf("before fix: %v", err)
	}
	if imm, _ := d.TagImmutable("apps", "frontend", "v1.0.0"); !imm {
		t.Error("apps v1.0.0 should be immutable")
	}
	if imm, _ := d.TagImmutable("apps", "frontend", "latest"); imm {
		t.Error("apps latest should be mutable")
	}
	if imm, _ := d.TagImmutable("infra", "tools/ci", "v1.0.0"); imm {
		t.Error("infra rule is disabled")
	}
}
