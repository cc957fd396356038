// Package acrcontract checks ACR data-plane traffic (requests from the
// adapter, responses from the emulator) against Microsoft's published spec,
// acr-dataplane.json (Swagger 2.0, api-version 2021-07-01). Only tests import
// it, so kin-openapi stays out of the binary.
//
// The spec is read at test time from $IMMUTAG_SPECS_DIR (see
// testutil.SpecPath); tests skip with a message when it is absent, or fail
// with IMMUTAG_REQUIRE_SPECS=1.
//
// Known, deliberate deviations (both are what the real service does):
//   - 401 bodies carry "detail" as an array; the spec says object. The
//     checker drops detail from 401 bodies before validating.
//   - Link next-page URLs carry an empty "orderby=" and no api-version;
//     empty query values are accepted (spec parameters are optional
//     strings with no allowEmptyValue).
//
// Tool limitation: openapi2conv turns the form parameters of the token
// endpoints into component schemas named after the parameters, and
// "AccessToken" and "RefreshToken" collide with the response definitions of
// the same names, so openapi3filter cannot decode those form bodies. Form
// bodies are therefore checked directly against the Swagger 2.0 formData
// parameters (presence of required fields, enum values, string types).
//
// Routing note: repository names travel percent-escaped (team%2Fapp), so
// requests are routed on their escaped path, and {name} is validated in
// that form.
package acrcontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/immutag/immutag/internal/testutil"
	"github.com/immutag/immutag/internal/testutil/apispec"
)

// SpecFile is the spec's file name inside the specs directory.
const SpecFile = "acr-dataplane.json"

// Checker validates exchanges and collects the problems it finds. It is
// safe for concurrent use.
type Checker struct {
	router routers.Router
	doc2   *openapi2.T

	mu       sync.Mutex
	problems []string
	ops      map[string]int
}

// New loads the spec or skips the test when it is absent.
func New(tb testing.TB) *Checker {
	tb.Helper()
	p := testutil.Spec(tb, "ACR contract check", SpecFile)
	c, err := Load(p)
	if err != nil {
		tb.Fatalf("load %s: %v", p, err)
	}
	return c
}

// Load reads and converts the Swagger 2.0 spec at path.
func Load(path string) (*Checker, error) {
	tree, err := apispec.ReadTree(path)
	if err != nil {
		return nil, err
	}
	doc2, doc3, err := apispec.Swagger2(tree)
	if err != nil {
		return nil, err
	}
	// x-ms-parameterized-host ({url}) has no OpenAPI 3 equivalent; route
	// on the path alone.
	r, err := apispec.Router(doc3, "")
	if err != nil {
		return nil, err
	}
	return &Checker{router: r, doc2: doc2, ops: map[string]int{}}, nil
}

// Transport returns a RoundTripper that forwards to base and checks every
// exchange.
func (c *Checker) Transport(base http.RoundTripper) http.RoundTripper {
	return testutil.Tap(base, c.Check)
}

// Check validates one exchange and records any problem.
func (c *Checker) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	if err := c.check(req, reqBody, resp, respBody); err != nil {
		c.mu.Lock()
		c.problems = append(c.problems, fmt.Sprintf("%s %s -> %d: %v", req.Method, req.URL.RequestURI(), resp.StatusCode, err))
		c.mu.Unlock()
	}
}

func (c *Checker) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	ctx := context.Background()
	rr := req.Clone(ctx)
	u := *req.URL
	u.Path, u.RawPath = req.URL.EscapedPath(), ""
	rr.URL = &u
	rr.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(rr)
	if err != nil {
		return fmt.Errorf("no operation in the spec: %w", err)
	}
	c.mu.Lock()
	c.ops[route.Operation.OperationID+" "+fmt.Sprint(resp.StatusCode)]++
	c.mu.Unlock()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route, Options: opts}
	var errs []error
	// The request is only held to the spec when the server accepted it;
	// the bodiless probe answered 401 and token-less calls are the auth
	// protocol, not operations.
	if resp.StatusCode < 400 {
		form := strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
		reqOpts := *opts
		reqOpts.ExcludeRequestBody = form
		in.Options = &reqOpts
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("request: %w", err))
		}
		in.Options = opts
		if form {
			if err := c.checkForm(route.Path, req.Method, reqBody); err != nil {
				errs = append(errs, fmt.Errorf("request form: %w", err))
			}
		}
	}
	body := respBody
	if resp.StatusCode == http.StatusUnauthorized {
		body = dropDetail(body)
	}
	hdr := resp.Header.Clone()
	if ct := hdr.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		hdr.Set("Content-Type", "application/json")
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: hdr, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response: %w", err))
	}
	return errors.Join(errs...)
}

// checkForm validates an x-www-form-urlencoded body against the Swagger 2.0
// formData parameters of the operation.
func (c *Checker) checkForm(path, method string, body []byte) error {
	item := c.doc2.Paths[path]
	if item == nil || item.GetOperation(method) == nil {
		return fmt.Errorf("no Swagger 2.0 operation for %s %s", method, path)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	var errs []error
	known := map[string]bool{}
	for _, pr := range item.GetOperation(method).Parameters {
		if pr.Ref != "" {
			pr = c.doc2.Parameters[strings.TrimPrefix(pr.Ref, "#/parameters/")]
		}
		if pr == nil || pr.In != "formData" {
			continue
		}
		known[pr.Name] = true
		v, present := vals[pr.Name]
		if !present {
			if pr.Required {
				errs = append(errs, fmt.Errorf("required field %q missing", pr.Name))
			}
			continue
		}
		if pr.Type != nil && !pr.Type.Is("string") {
			errs = append(errs, fmt.Errorf("field %q: only string fields are checked, spec says %v", pr.Name, pr.Type))
		}
		if len(pr.Enum) > 0 {
			ok := false
			for _, e := range pr.Enum {
				if fmt.Sprint(e) == v[0] {
					ok = true
				}
			}
			if !ok {
				errs = append(errs, fmt.Errorf("field %q: %q is not one of %v", pr.Name, v[0], pr.Enum))
			}
		}
	}
	for k := range vals {
		if !known[k] {
			errs = append(errs, fmt.Errorf("field %q is not in the spec", k))
		}
	}
	return errors.Join(errs...)
}

func dropDetail(body []byte) []byte {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	if list, ok := v["errors"].([]any); ok {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				delete(m, "detail")
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return b
}

// Problems returns every violation found so far.
func (c *Checker) Problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.problems...)
}

// Operations returns "operationId status" -> count for the checked traffic.
func (c *Checker) Operations() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.ops))
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// Report is a sorted, printable list of the operations seen.
func (c *Checker) Report() string {
	ops := c.Operations()
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s x%d\n", k, ops[k])
	}
	return b.String()
}
