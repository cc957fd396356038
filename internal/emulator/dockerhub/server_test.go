package dockerhub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/testutil"
)

// testServer is an emulator and the test server it is served on.
type testServer struct {
	*Server
	url string
}

// URL is the emulator's base URL.
func (s *testServer) URL() string { return s.url }

func start(t *testing.T, o Options) *testServer {
	t.Helper()
	s := New(o)
	s.AddAccount(Account{Identifier: "admin", Secret: "admin-secret", Admin: true})
	s.AddAccount(Account{Identifier: "reader", Secret: "reader-secret", Namespaces: []string{"acme"}})
	s.AddAccount(Account{Identifier: "public", Secret: "public-secret", PublicOnly: true})
	web := httptest.NewServer(s.Handler())
	t.Cleanup(web.Close)
	return &testServer{Server: s, url: web.URL}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, s *testServer, method, path, token, body string) reply {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = s.URL() + path
	}
	resp, raw := testutil.Send(t, http.DefaultClient, method, u, body, func(req *http.Request) {
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
	})
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return r
}

func login(t *testing.T, s *testServer, id, secret string) string {
	t.Helper()
	r := call(t, s, http.MethodPost, "/v2/auth/token", "", fmt.Sprintf(`{"identifier":%q,"secret":%q}`, id, secret))
	tok, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || strings.Count(tok, ".") != 2 {
		t.Fatalf("login %s: %d %v", id, r.status, r.body)
	}
	return tok
}

func seed(t *testing.T, s *testServer, ns, name string, private, enabled bool, rules ...string) {
	t.Helper()
	if err := s.AddRepository(Repository{Namespace: ns, Name: name, Private: private, ImmutableEnabled: enabled, ImmutableRules: rules,
		Tags: map[string]string{"latest": "sha256:a", "v1.2.3": "sha256:b"}}); err != nil {
		t.Fatal(err)
	}
}

func TestAuth(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := start(t, Options{Now: clk.Now, TokenTTL: time.Minute})
	seed(t, s, "acme", "app", false, false)

	if r := call(t, s, http.MethodPost, "/v2/auth/token", "", `{"identifier":"admin","secret":"nope"}`); r.status != 401 || r.body["detail"] == "" {
		t.Fatalf("wrong secret: %d %v", r.status, r.body)
	}
	if r := call(t, s, http.MethodPost, "/v2/auth/token", "", `{"identifier":"admin"}`); r.status != 400 {
		t.Fatalf("missing secret: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", "", ""); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", "forged", ""); r.status != 401 {
		t.Fatalf("forged token: %d", r.status)
	}
	tok := login(t, s, "admin", "admin-secret")
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, ""); r.status != 200 {
		t.Fatalf("valid token: %d", r.status)
	}
	clk.Advance(time.Minute)
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, ""); r.status != 401 || r.body["detail"] != "token expired" {
		t.Fatalf("expired token: %d %v", r.status, r.body)
	}
	tok = login(t, s, "admin", "admin-secret")
	s.RevokeTokens()
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, ""); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	if n := s.Calls().Get(OpAuthToken); n != 4 {
		t.Fatalf("token calls counted %d, want 4", n)
	}
}

func TestListingPagination(t *testing.T) {
	s := start(t, Options{})
	for i := range 7 {
		seed(t, s, "acme", fmt.Sprintf("r%d", i), i%2 == 0, false)
	}
	seed(t, s, "other", "x", false, false)
	tok := login(t, s, "admin", "admin-secret")

	var names []string
	next := "/v2/namespaces/acme/repositories?page_size=3"
	pages := 0
	for next != "" {
		r := call(t, s, http.MethodGet, next, tok, "")
		if r.status != 200 || r.body["count"] != float64(7) {
			t.Fatalf("page %d: %d %v", pages, r.status, r.body)
		}
		for _, e := range r.body["results"].([]any) {
			names = append(names, e.(map[string]any)["name"].(string))
		}
		next, _ = r.body["next"].(string)
		if next != "" && !strings.HasPrefix(next, s.URL()+"/v2/namespaces/acme/repositories?") {
			t.Fatalf("next %q is not an absolute URL on the emulator", next)
		}
		pages++
	}
	if pages != 3 || strings.Join(names, ",") != "r0,r1,r2,r3,r4,r5,r6" {
		t.Fatalf("pages=%d names=%v", pages, names)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?page=4&page_size=3", tok, ""); r.status != 404 {
		t.Fatalf("page past the end: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?page_size=101", tok, ""); r.status != 400 {
		t.Fatalf("page_size 101: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?ordering=stars", tok, ""); r.status != 400 || r.body["text"] != "Invalid ordering value" {
		t.Fatalf("bad ordering: %d %v", r.status, r.body)
	}
	r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?ordering=-name&page_size=1", tok, "")
	if first := r.body["results"].([]any)[0].(map[string]any)["name"]; first != "r6" {
		t.Fatalf("-name ordering first = %v", first)
	}
	s.SetFaults(emulator.Faults{PageSize: 2})
	r = call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?page_size=100", tok, "")
	if len(r.body["results"].([]any)) != 2 {
		t.Fatalf("PageSize fault ignored: %v", r.body)
	}

	pub := login(t, s, "public", "public-secret")
	r = call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories?page_size=100", pub, "")
	if r.body["count"] != float64(3) {
		t.Fatalf("public-only token sees %v repositories, want the 3 public ones", r.body["count"])
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories/r0", pub, ""); r.status != 404 {
		t.Fatalf("public-only token reading a private repository: %d", r.status)
	}
	reader := login(t, s, "reader", "reader-secret")
	if r := call(t, s, http.MethodGet, "/v2/namespaces/other/repositories", reader, ""); r.status != 403 {
		t.Fatalf("namespace outside the account: %d", r.status)
	}
}

func TestRepositoryAndImmutableTags(t *testing.T) {
	s := start(t, Options{})
	seed(t, s, "acme", "app", true, false, ".*")
	admin := login(t, s, "admin", "admin-secret")
	reader := login(t, s, "reader", "reader-secret")

	r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories/app", admin, "")
	set := r.body["immutable_tags_settings"].(map[string]any)
	if r.status != 200 || set["enabled"] != false || fmt.Sprint(set["rules"]) != "[.*]" || r.body["permissions"].(map[string]any)["admin"] != true {
		t.Fatalf("get: %d %v", r.status, r.body)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories/nope", admin, ""); r.status != 404 {
		t.Fatalf("missing repository: %d", r.status)
	}
	path := "/v2/namespaces/acme/repositories/app/immutabletags"
	for _, c := range []struct {
		token, body string
		status      int
	}{
		{reader, `{"immutable_tags":true,"immutable_tags_rules":[".*"]}`, 403},
		{admin, `{"immutable_tags":true,"immutable_tags_rules":["(v"]}`, 400},
		{admin, `{"immutable_tags":true}`, 400},
		{admin, `{"immutable_tags_rules":[".*"]}`, 400},
	} {
		if r := call(t, s, http.MethodPatch, path, c.token, c.body); r.status != c.status {
			t.Fatalf("PATCH %s: %d, want %d (%v)", c.body, r.status, c.status, r.body)
		}
	}
	if en, rules, _ := s.Settings("acme", "app"); en || fmt.Sprint(rules) != "[.*]" {
		t.Fatalf("rejected PATCHes changed settings: %v %v", en, rules)
	}
	r = call(t, s, http.MethodPatch, path, admin, `{"immutable_tags":true,"immutable_tags_rules":["^v.*$","rc"]}`)
	if r.status != 200 || fmt.Sprint(r.body["immutable_tags_settings"].(map[string]any)["rules"]) != "[^v.*$ rc]" {
		t.Fatalf("PATCH: %d %v", r.status, r.body)
	}
	r = call(t, s, http.MethodPost, path+"/verify", admin, `{"regex":"v.*"}`)
	if r.status != 200 || fmt.Sprint(r.body["tags"]) != "[v1.2.3]" {
		t.Fatalf("verify: %d %v", r.status, r.body)
	}
	if n := s.Calls().Get(OpUpdateImmutableTags); n != 5 {
		t.Fatalf("PATCH calls counted %d, want 5", n)
	}
}

func TestPushEnforcesRules(t *testing.T) {
	s := start(t, Options{})
	seed(t, s, "acme", "open", false, false, ".*")
	seed(t, s, "acme", "all", false, true, ".*")
	seed(t, s, "acme", "rel", false, true, `v[0-9.]+`)
	admin := login(t, s, "admin", "admin-secret")
	push := func(repo, tag, body string) reply {
		return call(t, s, http.MethodPut, "/v2/acme/"+repo+"/manifests/"+tag, admin, body)
	}
	if r := push("open", "latest", "new"); r.status != 201 {
		t.Fatalf("disabled (rules ignored) overwrite: %d", r.status)
	}
	if r := push("all", "latest", "new"); r.status != 400 || !strings.Contains(fmt.Sprint(r.body), "TAG_IMMUTABLE") {
		t.Fatalf("universal overwrite: %d %v", r.status, r.body)
	}
	if r := push("all", "fresh", "x"); r.status != 201 {
		t.Fatalf("new tag on immutable repository: %d", r.status)
	}
	if r := push("all", "fresh", "x"); r.status != 201 {
		t.Fatalf("same content again: %d", r.status)
	}
	if r := push("rel", "latest", "new"); r.status != 201 {
		t.Fatalf("tag outside the rules: %d", r.status)
	}
	if r := push("rel", "v1.2.3", "new"); r.status != 400 {
		t.Fatalf("tag matching the rules: %d", r.status)
	}
	if err := s.Push("acme", "rel", "v1.2.3", "sha256:zzz"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("Push: %v", err)
	}
}

func TestFaultsAndDenies(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := start(t, Options{Now: clk.Now})
	seed(t, s, "acme", "app", false, false)
	seed(t, s, "acme", "hidden", false, false)
	seed(t, s, "vault", "x", false, false)
	tok := login(t, s, "admin", "admin-secret")

	s.SetFaults(emulator.Faults{ThrottleRate: 1, RetryAfter: 3 * time.Second})
	r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, "")
	xra, _ := strconv.ParseInt(r.header.Get("X-Retry-After"), 10, 64)
	if r.status != 429 || r.header.Get("Retry-After") != "3" || xra != clk.Now().Add(3*time.Second).Unix() || r.body["detail"] != "Rate limit exceeded" {
		t.Fatalf("throttle: %d %v %v", r.status, r.header, r.body)
	}
	s.SetFaults(emulator.Faults{ErrorRate: 1})
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, ""); r.status != 500 {
		t.Fatalf("error injection: %d", r.status)
	}
	s.SetFaults(emulator.Faults{})
	if s.Calls().Get(OpThrottled) != 1 || s.Calls().Get(OpFailed) != 1 {
		t.Fatalf("fault counters %v", s.Calls().Snapshot())
	}

	s.DenyNamespace("vault", 0)
	s.DenyRepository("acme", "hidden", http.StatusNotFound)
	if r := call(t, s, http.MethodGet, "/v2/namespaces/vault/repositories", tok, ""); r.status != 403 {
		t.Fatalf("denied namespace: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories", tok, ""); r.status != 200 || r.body["count"] != float64(2) {
		t.Fatalf("listing with a denied repository: %d %v", r.status, r.body)
	}
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories/hidden", tok, ""); r.status != 404 {
		t.Fatalf("denied repository: %d", r.status)
	}
	s.Allow()
	if r := call(t, s, http.MethodGet, "/v2/namespaces/acme/repositories/hidden", tok, ""); r.status != 200 {
		t.Fatalf("after Allow: %d", r.status)
	}
	if r := call(t, s, http.MethodGet, "/v2/repositories/acme/app", tok, ""); r.status != 404 {
		t.Fatalf("legacy route must not exist: %d", r.status)
	}
}

func TestDemo(t *testing.T) {
	d, err := StartDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	p := d.Provider()
	env := d.Env()
	if p.Kind != "dockerhub" || p.Name != "hub-demo" || env[p.Credentials.UsernameEnv] == "" || env[p.Credentials.TokenEnv] == "" {
		t.Fatalf("demo config %+v env %v", p, env)
	}
	if u, err := url.Parse(p.Endpoint); err != nil || !strings.HasPrefix(u.Host, "127.0.0.1:") {
		t.Fatalf("endpoint %q", p.Endpoint)
	}
	ns, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(t.Context(), ns, repo, tag); err != nil {
		t.Fatalf("overwrite before fix: %v", err)
	}
	srv := &testServer{Server: d.(*demo).Server(), url: d.Endpoint()}
	if err := srv.Push(ns, "api", "latest", "sha256:other"); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("demo api repository should be immutable: %v", err)
	}
	tok := login(t, srv, env[p.Credentials.UsernameEnv], env[p.Credentials.TokenEnv])
	call(t, srv, http.MethodPatch, "/v2/namespaces/"+ns+"/repositories/"+repo+"/immutabletags", tok, `{"immutable_tags":true,"immutable_tags_rules":[".*"]}`)
	if err := d.PushTag(t.Context(), ns, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Fatalf("overwrite after fix: %v", err)
	}
}
