package harbor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/apispec"
)

// harborSpec loads the official Swagger 2.0 document, converts it to
// OpenAPI 3 and points its server at base.
func harborSpec(t *testing.T, base string) routers.Router {
	t.Helper()
	path := testutil.Spec(t, "harbor contract test", "harbor-swagger.yaml")
	tree, err := apispec.ReadTree(path)
	if err != nil {
		t.Fatal(err)
	}
	doc2, doc3, err := apispec.Swagger2(tree)
	if err != nil {
		t.Fatal(err)
	}
	router, err := apispec.Router(doc3, base+doc2.BasePath)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// validator checks every /api/v2.0 exchange against the spec: the request
// the adapter sends and the response the emulator returns.
type validator struct {
	router routers.Router

	mu       sync.Mutex
	problems []string
	ops      map[string]int
}

func (v *validator) fail(format string, a ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}

// check validates one exchange: the request against its operation's
// parameters and body, the response against the operation's responses.
func (v *validator) check(req *http.Request, body []byte, resp *http.Response, rb []byte) {
	if !strings.HasPrefix(req.URL.Path, apiPrefix+"/") {
		return
	}
	ctx := context.Background()
	what := req.Method + " " + req.URL.RequestURI()
	check := req.Clone(ctx)
	check.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.router.FindRoute(check)
	if err != nil {
		v.fail("%s: not in the spec: %v", what, err)
		return
	}
	v.mu.Lock()
	v.ops[route.Operation.OperationID]++
	v.mu.Unlock()
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
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(rb)),
		Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.fail("response %d to %s: %v\nbody: %s", resp.StatusCode, what, err, rb)
	}
}

func TestContractAgainstHarborSwagger(t *testing.T) {
	v := &validator{ops: map[string]int{}}
	e := setup(t, setupOpts{client: &http.Client{Transport: testutil.Tap(http.DefaultTransport, v.check)}})
	v.router = harborSpec(t, e.hs.URL)
	seed(t, e.s)
	testutil.Must(t, e.s.AddRepo("library", "team/nested", "latest"))

	// Audit every project, then fix: a POST (library), a toggle PUT
	// (infra), a rule with excludes (partial, allowed latest).
	c, errs := testutil.Scan(t, e.p)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, k := range []string{"library/nginx", "infra/tools/ci"} {
		ch, err := e.p.Plan(t.Context(), c.ByKey()[k], providers.FixPolicy{})
		testutil.Must(t, err)
		if r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil || !r.Verified {
			t.Fatalf("%s: %+v %v", k, r, err)
		}
	}
	ch, err := e.p.Plan(t.Context(), c.ByKey()["partial/svc"], providers.FixPolicy{MutableTagsAllowed: []string{"latest", "dev"}})
	testutil.Must(t, err)
	if r, err := e.p.Apply(t.Context(), ch, &testutil.Observer{}); err != nil || !r.Verified {
		t.Fatalf("partial: %+v %v", r, err)
	}

	// The audit log after a push: one past lifetime of nginx:v1.
	testutil.Must(t, e.s.SeedPush("library", "nginx", "v1", "sha256:"+strings.Repeat("e", 64), time.Now().Add(time.Minute)))
	var past []providers.Tag
	_, err = e.p.TagHistory(t.Context(), c.ByKey()["library/nginx"], time.Time{}, func(tg providers.Tag) error {
		if !tg.Ended.IsZero() {
			past = append(past, tg)
		}
		return nil
	})
	testutil.Must(t, err)
	if len(past) != 1 || past[0].Name != "v1" || past[0].Source != AuditLogSource {
		t.Errorf("audit-log lifetimes after one overwrite: %+v", past)
	}

	// Projects named in config are looked up by name; a denied project
	// answers with a documented 403.
	e.p.projects = []string{"apps", "partial"}
	e.s.Deny("partial", true)
	_, errs = testutil.Scan(t, e.p)
	if !errors.Is(errs["partial"], providers.ErrDenied) {
		t.Errorf("denied project: %v", errs)
	}

	for _, op := range []string{"listProjects", "getProject", "listRepositories", "ListImmuRules", "CreateImmuRule", "UpdateImmuRule", "getLogExts"} {
		if v.ops[op] == 0 {
			t.Errorf("operation %s was not exercised", op)
		}
	}
	for _, p := range v.problems {
		t.Error(p)
	}
}
