package harbor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"gopkg.in/yaml.v3"

	"github.com/immutag/immutag/internal/providers"
)

// specsDir is $IMMUTAG_SPECS_DIR, else ../shared/specs beside the
// repository root (the directory holding go.mod).
func specsDir(t *testing.T) string {
	if d := os.Getenv("IMMUTAG_SPECS_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "specs")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// harborSpec loads the official Swagger 2.0 document, converts it to
// OpenAPI 3 and points its server at base.
func harborSpec(t *testing.T, base string) routers.Router {
	t.Helper()
	path := filepath.Join(specsDir(t), "harbor-swagger.yaml")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("harbor contract test skipped: %s not found (set IMMUTAG_SPECS_DIR to the directory holding harbor-swagger.yaml)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	js, err := json.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(js, &doc2); err != nil {
		t.Fatalf("decode swagger 2.0: %v", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		t.Fatalf("convert to openapi 3: %v", err)
	}
	doc3.Servers = openapi3.Servers{{URL: base + doc2.BasePath}}
	router, err := legacy.NewRouter(doc3, openapi3.DisableExamplesValidation())
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return router
}

// validator checks every /api/v2.0 exchange against the spec: the request
// the adapter sends and the response the emulator returns.
type validator struct {
	router routers.Router
	base   http.RoundTripper

	mu       sync.Mutex
	problems []string
	ops      map[string]int
}

func (v *validator) fail(format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, apiPrefix+"/") {
		return v.base.RoundTrip(req)
	}
	ctx := context.Background()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.fail("%s: not in the spec: %v", what, err)
		return v.base.RoundTrip(req)
	}
	v.mu.Lock()
	v.ops[route.Operation.OperationID]++
	v.mu.Unlock()
	check := req.Clone(ctx)
	check.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request: check, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				if _, _, ok := ai.RequestValidationInput.Request.BasicAuth(); !ok {
					return errors.New("no HTTP Basic credentials")
				}
				return nil
			},
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		v.fail("request %s: %v", what, err)
	}
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(rb)),
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.fail("response %d to %s: %v\nbody: %s", resp.StatusCode, what, err, rb)
	}
	return resp, nil
}

func TestContractAgainstHarborSwagger(t *testing.T) {
	v := &validator{base: http.DefaultTransport, ops: map[string]int{}}
	e := setup(t, setupOpts{client: &http.Client{Transport: v}})
	v.router = harborSpec(t, e.hs.URL)
	seed(t, e.s)
	must(t, e.s.AddRepo("library", "team/nested", "latest"))

	// Audit every project, then fix: a POST (library), a toggle PUT
	// (infra), a rule with excludes (partial, allowed latest).
	c, errs := e.scan(t)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, k := range []string{"library/nginx", "infra/tools/ci"} {
		ch, err := e.p.Plan(t.Context(), c.repos[k], providers.FixPolicy{})
		must(t, err)
		if r, err := e.p.Apply(t.Context(), ch, &journal{}); err != nil || !r.Verified {
			t.Fatalf("%s: %+v %v", k, r, err)
		}
	}
	ch, err := e.p.Plan(t.Context(), c.repos["partial/svc"], providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev"}})
	must(t, err)
	if r, err := e.p.Apply(t.Context(), ch, &journal{}); err != nil || !r.Verified {
		t.Fatalf("partial: %+v %v", r, err)
	}

	// Projects named in config are looked up by name; a denied project
	// answers with a documented 403.
	e.p.cfg.Projects = []string{"apps", "partial"}
	e.s.Deny("partial", true)
	_, errs = e.scan(t)
	if providers.KindOf(errs["partial"]) != providers.ErrDenied {
		t.Errorf("denied project: %v", errs)
	}

	for _, op := range []string{"listProjects", "getProject", "listRepositories", "ListImmuRules", "CreateImmuRule", "UpdateImmuRule"} {
		if v.ops[op] == 0 {
			t.Errorf("operation %s was not exercised", op)
		}
	}
	for _, p := range v.problems {
		t.Error(p)
	}
}
