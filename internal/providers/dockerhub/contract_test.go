package dockerhub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/immutag/immutag/internal/emulator"
	hubemu "github.com/immutag/immutag/internal/emulator/dockerhub"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/apispec"
)

const specFile = "dockerhub-openapi.yaml"

// contract checks every exchange that passes through its transport
// against the spec: the request (when validateRequests is set) and the
// response.
type contract struct {
	router routers.Router

	mu               sync.Mutex
	validateRequests bool
	problems         []string
	seen             map[string]int
}

func newContract(t *testing.T, serverURL string) *contract {
	t.Helper()
	p := testutil.Spec(t, "Docker Hub contract test", specFile)
	tree, err := apispec.ReadTree(p)
	if err != nil {
		t.Fatal(err)
	}
	// Known spec defect: a few org access token schemas put `required: true`
	// on properties (OpenAPI wants a list on the parent). Those schemas are
	// not on any route immutag uses; drop the booleans so the document loads.
	tree = dropBoolRequired(tree)
	// Second known defect: schema team_repo (used by group routes only)
	// points at a response that does not exist. Drop it, and keep only the
	// routes of the API immutag speaks: anything else the adapter sent
	// would then fail routing, which is the point.
	root, _ := tree.(map[string]any)
	paths, _ := root["paths"].(map[string]any)
	if comps, ok := root["components"].(map[string]any); ok {
		if schemas, ok := comps["schemas"].(map[string]any); ok {
			delete(schemas, "team_repo")
		}
	}
	for k := range paths {
		if k != "/v2/auth/token" && k != "/v2/auditlogs/{account}" && !strings.HasPrefix(k, "/v2/namespaces/{namespace}/repositories") {
			delete(paths, k)
		}
	}
	// Third and fourth known defects: some responses have no description,
	// which OpenAPI requires, and CreateRepository names an undefined
	// security scheme BearerAuth (bearerAuth is meant).
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			sec, _ := o["security"].([]any)
			for _, req := range sec {
				if rm, ok := req.(map[string]any); ok && rm["BearerAuth"] != nil {
					rm["bearerAuth"] = rm["BearerAuth"]
					delete(rm, "BearerAuth")
				}
			}
			resps, _ := o["responses"].(map[string]any)
			for _, r := range resps {
				if rm, ok := r.(map[string]any); ok && rm["$ref"] == nil && rm["description"] == nil {
					rm["description"] = "(not described in the spec)"
				}
			}
		}
	}
	doc, err := apispec.OpenAPI3(tree)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	// Route requests sent to the emulator instead of hub.docker.com.
	r, err := apispec.Router(doc, serverURL)
	if err != nil {
		t.Fatalf("router for %s: %v", p, err)
	}
	c := &contract{router: r, validateRequests: true, seen: map[string]int{}}
	// Reported even when the test stops early.
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, p := range c.problems {
			t.Error(p)
		}
	})
	return c
}

// dropBoolRequired removes boolean `required` keys from property schemas.
func dropBoolRequired(n any) any {
	switch v := n.(type) {
	case map[string]any:
		for k, c := range v {
			c = dropBoolRequired(c)
			if props, ok := c.(map[string]any); ok && k == "properties" {
				for _, p := range props {
					if ps, ok := p.(map[string]any); ok {
						if _, isBool := ps["required"].(bool); isBool {
							delete(ps, "required")
						}
					}
				}
			}
			v[k] = c
		}
		return v
	case []any:
		for i, c := range v {
			v[i] = dropBoolRequired(c)
		}
	}
	return n
}

func (c *contract) transport(base http.RoundTripper) http.RoundTripper {
	return testutil.Tap(base, c.check)
}

func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	ctx := context.Background()
	fail := func(format string, a ...any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.problems = append(c.problems, fmt.Sprintf("%s %s -> %d: ", req.Method, req.URL.RequestURI(), resp.StatusCode)+fmt.Sprintf(format, a...))
	}
	rr := req.Clone(ctx)
	rr.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(rr)
	if err != nil {
		fail("no operation in the spec: %v", err)
		return
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, resp.StatusCode)]++
	validateReq := c.validateRequests
	c.mu.Unlock()
	// Security is the emulator's business (it answers 401 itself).
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route, Options: opts}
	if validateReq {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			fail("request: %v", err)
		}
	}
	// The spec does not declare 429 or every 5xx; those are checked for
	// shape by the unit tests, not here.
	if resp.StatusCode == http.StatusTooManyRequests {
		return
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		fail("response: %v", err)
	}
}

func (c *contract) report(t *testing.T, wantOps ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var ops []string
	for k, n := range c.seen {
		ops = append(ops, fmt.Sprintf("%s x%d", k, n))
	}
	sort.Strings(ops)
	t.Logf("validated exchanges: %s", strings.Join(ops, ", "))
	for _, w := range wantOps {
		if c.seen[w] == 0 {
			t.Errorf("no %q exchange was validated", w)
		}
	}
}

func TestContractAgainstOfficialSpec(t *testing.T) {
	s := startEmu(t, hubemu.Options{Faults: emulator.Faults{PageSize: 3}})
	c := newContract(t, s.URL())
	addRepo(t, s, "acme", "web", false, false)
	addRepo(t, s, "acme", "api", true, true, ".*")
	addRepo(t, s, "acme", "worker", true, true, `^v[0-9]+$`, "release-.*")
	addRepo(t, s, "acme", "legacy", false, false, ".*")
	addRepo(t, s, "acme", "locked", true, false)
	addRepo(t, s, "acme", "gone", true, false)
	addRepo(t, s, "denied", "x", true, false)
	s.DenyRepository("acme", "locked", http.StatusForbidden)
	s.DenyRepository("acme", "gone", http.StatusNotFound)
	s.DenyNamespace("denied", http.StatusForbidden)

	hc := &http.Client{Transport: c.transport(http.DefaultTransport)}
	p := newProvider(t, s, func(st *setup) { st.hc = hc; st.namespaces = []string{"acme", "denied"} })

	// Audit, with pagination, per-repository and namespace denials.
	col, errs := testutil.Scan(t, p)
	if errs["denied"] == nil || len(col.ByKey()) != 6 {
		t.Fatalf("scan: errs=%v repos=%v", errs, col.Keys())
	}
	// Fix and verify.
	for _, r := range col.ByKey() {
		if r.Mode == providers.ModeUnknown {
			continue
		}
		ch, err := p.Plan(t.Context(), r, providers.FixPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil {
			t.Fatal(err)
		}
	}
	// The audit log, three events a page: one past lifetime of web:v1; a
	// repository of a namespace without audit logs is refused.
	s.EnableAuditLog("acme")
	for i, at := range []time.Time{time.Now().Add(-2 * time.Hour), time.Now().Add(-time.Hour)} {
		testutil.Must(t, s.SeedPush("acme", "web", "v1", fmt.Sprintf("sha256:%064d", i), at))
	}
	var past []providers.Tag
	_, err := p.TagHistory(t.Context(), col.ByKey()["acme/web"], time.Time{}, func(tg providers.Tag) error {
		if !tg.Ended.IsZero() {
			past = append(past, tg)
		}
		return nil
	})
	testutil.Must(t, err)
	if len(past) != 1 || past[0].Digest != fmt.Sprintf("sha256:%064d", 0) {
		t.Errorf("audit-log lifetimes: %+v", past)
	}
	if _, err := p.TagHistory(t.Context(), providers.Repository{Scope: "denied", Name: "x"}, time.Time{}, func(providers.Tag) error { return nil }); !errors.Is(err, providers.ErrDenied) {
		t.Errorf("audit log of a denied namespace: %v", err)
	}

	// A rejected token and a 401 refresh.
	s.RevokeTokens()
	if _, errs := testutil.Scan(t, p); len(errs) != 1 {
		t.Fatalf("scan after revocation: %v", errs)
	}
	bad := newProvider(t, s, func(st *setup) { st.hc = hc; st.env = env{userEnv: testUser, tokenEnv: "wrong"} })
	if _, errs := testutil.Scan(t, bad); errs["acme"] == nil {
		t.Fatal("wrong secret accepted")
	}

	// Emulator answers the adapter never provokes: requests the spec
	// rejects are sent on purpose, so only the responses are held to it.
	c.mu.Lock()
	c.validateRequests = false
	c.mu.Unlock()
	tok := mint(t, hc, s.URL())
	for _, call := range []struct{ method, path, body string }{
		{"GET", "/v2/namespaces/acme/repositories?page=9&page_size=3", ""},
		{"GET", "/v2/namespaces/acme/repositories?ordering=stars", ""},
		{"GET", "/v2/namespaces/acme/repositories/nope", ""},
		{"PATCH", "/v2/namespaces/acme/repositories/web/immutabletags", `{"immutable_tags":true,"immutable_tags_rules":["(unclosed"]}`},
		{"PATCH", "/v2/namespaces/acme/repositories/web/immutabletags", `{"immutable_tags":true}`},
		{"POST", "/v2/namespaces/acme/repositories/web/immutabletags/verify", `{"regex":"v.*"}`},
		{"HEAD", "/v2/namespaces/acme/repositories/web", ""},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), call.method, s.URL()+call.path, strings.NewReader(call.body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	c.report(t,
		"AuthCreateAccessToken 200", "AuthCreateAccessToken 401",
		"listNamespaceRepositories 200", "listNamespaceRepositories 403", "listNamespaceRepositories 401",
		"listNamespaceRepositories 404", "listNamespaceRepositories 400",
		"GetRepository 200", "GetRepository 403", "GetRepository 404",
		"UpdateRepositoryImmutableTags 200", "UpdateRepositoryImmutableTags 400",
		"VerifyRepositoryImmutableTags 200",
		"AuditLogs_ListAuditLogs 200", "AuditLogs_ListAuditLogs 403",
	)
}

func mint(t *testing.T, hc *http.Client, base string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v2/auth/token",
		strings.NewReader(fmt.Sprintf(`{"identifier":%q,"secret":%q}`, testUser, testSecret)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := jsonDecode(resp.Body, &out); err != nil || out.AccessToken == "" {
		t.Fatalf("mint token: %v", err)
	}
	return out.AccessToken
}
