package ecr

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/immutag/immutag/internal/emulator"
)

func TestDeny(t *testing.T) {
	s := startServer(t, Options{})
	ctx := t.Context()
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if err := s.CreateRepository("", region, "app/svc", Mutable); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateRepository(otherAccount, "us-east-1", "app/other", Mutable); err != nil {
		t.Fatal(err)
	}
	east := ecrClient(s, "us-east-1", staticCreds)
	west := ecrClient(s, "eu-west-1", staticCreds)
	put := &awsecr.PutImageTagMutabilityInput{RepositoryName: aws.String("app/svc"), ImageTagMutability: types.ImageTagMutabilityImmutable}

	s.Deny("", "us-east-1", "DescribeRepositories")
	_, err := east.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	if code, status := apiCode(t, err); code != "AccessDeniedException" || status != 400 {
		t.Errorf("denied call: %s %d", code, status)
	}
	if n := s.Calls().Get("DescribeRepositories"); n != 1 {
		t.Errorf("AccessDenied retried: %d calls", n)
	}
	if _, err := west.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{}); err != nil {
		t.Errorf("other region affected: %v", err)
	}
	if _, err := east.PutImageTagMutability(ctx, put); err != nil {
		t.Errorf("other operation affected: %v", err)
	}

	s.Deny("", "eu-west-1", "*")
	if _, err := west.PutImageTagMutability(ctx, put); err == nil {
		t.Error("Deny * let PutImageTagMutability through")
	} else if code, _ := apiCode(t, err); code != "AccessDeniedException" {
		t.Errorf("Deny *: code %s", code)
	}
	if st, _ := s.Repository("", "eu-west-1", "app/svc"); st.Mutability != Mutable {
		t.Errorf("denied write changed the setting to %s", st.Mutability)
	}

	// Deny(...,"*") on an account does not block AssumeRole into it; an
	// explicit AssumeRole deny does.
	s.Deny(otherAccount, "us-east-1", "*")
	stsc := stsClient(s, staticCreds)
	role := "arn:aws:iam::" + otherAccount + ":role/audit"
	assumed := ecrClient(s, "us-east-1", aws.NewCredentialsCache(stscredsProvider(stsc, role)))
	_, err = assumed.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	if code, _ := apiCode(t, err); code != "AccessDeniedException" {
		t.Errorf("assumed role in denied account: %v", err)
	}
	s.Deny(otherAccount, "us-east-1", "AssumeRole")
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("x1")})
	if code, status := apiCode(t, err); code != "AccessDenied" || status != 403 {
		t.Errorf("denied AssumeRole: %s %d", code, status)
	}
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::12:role/x"), RoleSessionName: aws.String("x1")})
	if code, _ := apiCode(t, err); code != "ValidationError" {
		t.Errorf("malformed role ARN: %v", err)
	}
}

func TestThrottleAndErrorsInjected(t *testing.T) {
	s := startServer(t, Options{Faults: emulator.Faults{ThrottleRate: 1}})
	ctx := t.Context()
	if err := s.CreateRepository("", "us-east-1", "app/svc", Mutable); err != nil {
		t.Fatal(err)
	}
	c := ecrClient(s, "us-east-1", staticCreds) // 3 attempts

	_, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	if code, status := apiCode(t, err); code != "ThrottlingException" || status != 400 {
		t.Errorf("always throttled: %s %d", code, status)
	}
	if n := s.Calls().Get("DescribeRepositories"); n != 3 {
		t.Errorf("SDK attempts counted = %d, want 3 (throttling is retried)", n)
	}

	// Half the calls throttled: the SDK retries through every one of them.
	s.Calls().Reset()
	s.SetFaults(emulator.Faults{ThrottleRate: 0.5, Seed: 7})
	patient := awsecr.New(c.Options(), func(o *awsecr.Options) { o.Retryer = fastRetryer(25) })
	const calls = 20
	for i := range calls {
		if _, err := patient.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := s.Calls().Get("DescribeRepositories"); n <= calls {
		t.Errorf("calls counted = %d, want more than %d (throttled attempts included)", n, calls)
	}

	s.Calls().Reset()
	s.SetFaults(emulator.Faults{ErrorRate: 1})
	_, err = c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{})
	var se *types.ServerException
	if !errors.As(err, &se) {
		t.Errorf("want ServerException, got %v", err)
	}
	if _, status := apiCode(t, err); status != 500 {
		t.Errorf("ServerException status %d", status)
	}
	if n := s.Calls().Get("DescribeRepositories"); n != 3 {
		t.Errorf("server errors counted = %d, want 3", n)
	}

	// STS answers injected failures in its own XML error format.
	_, err = stsClient(s, staticCreds).GetCallerIdentity(ctx, nil)
	if code, _ := apiCode(t, err); code != "InternalFailure" {
		t.Errorf("STS injected failure: %v", err)
	}

	s.SetFaults(emulator.Faults{Latency: 30 * time.Millisecond})
	start := time.Now()
	if _, err := c.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("latency not injected: %v", d)
	}
}

// rawCall posts a signed-looking ECR request without the SDK.
func rawCall(t *testing.T, s *testServer, target, body string, auth bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", jsonType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if auth {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDRAW/20261126/eu-west-1/ecr/aws4_request, SignedHeaders=host, Signature=00")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestWireFormat(t *testing.T) {
	s := startServer(t, Options{})
	if err := s.CreateRepository("", "eu-west-1", "wire/repo", ImmutableWithExclusion, "latest"); err != nil {
		t.Fatal(err)
	}
	resp, body := rawCall(t, s, targetPrefix+"DescribeRepositories", `{"repositoryNames":["wire/repo"]}`, true)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != jsonType {
		t.Fatalf("status %d type %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var out struct {
		Repositories []map[string]any `json:"repositories"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	r := out.Repositories[0]
	if _, isNumber := r["createdAt"].(float64); !isNumber {
		t.Errorf("createdAt is %T, want epoch seconds as a number", r["createdAt"])
	}
	if r["repositoryArn"] != "arn:aws:ecr:eu-west-1:123456789012:repository/wire/repo" {
		t.Errorf("region not taken from the credential scope: %v", r["repositoryArn"])
	}
	fs, _ := r["imageTagMutabilityExclusionFilters"].([]any)
	if len(fs) != 1 || fs[0].(map[string]any)["filterType"] != "WILDCARD" {
		t.Errorf("filters on the wire = %v", r["imageTagMutabilityExclusionFilters"])
	}

	errorCases := []struct {
		name, target, body string
		auth               bool
		status             int
		code               string
	}{
		{"unknown operation", targetPrefix + "FlyToTheMoon", `{}`, true, 400, "UnknownOperationException"},
		{"wrong target prefix", "SomethingElse.DescribeRepositories", `{}`, true, 400, "UnknownOperationException"},
		{"no target", "", `{}`, true, 400, "UnknownOperationException"},
		{"unsigned", targetPrefix + "DescribeRepositories", `{}`, false, 400, "MissingAuthenticationTokenException"},
		{"bad json", targetPrefix + "DescribeRepositories", `{"maxResults":"ten"}`, true, 400, "SerializationException"},
	}
	for _, ec := range errorCases {
		resp, body := rawCall(t, s, ec.target, ec.body, ec.auth)
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("%s: body %q: %v", ec.name, body, err)
			continue
		}
		if resp.StatusCode != ec.status || e.Type != ec.code || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", ec.name, resp.StatusCode, e, ec.status, ec.code)
		}
	}
	if n := s.Calls().Get("FlyToTheMoon"); n != 1 {
		t.Errorf("unknown operation counted %d times", n)
	}
}

func TestUnsupportedLikeMoto(t *testing.T) {
	s := startServer(t, Options{})
	s.Unsupported("DescribeRepositoryCreationTemplates")
	resp, body := rawCall(t, s, targetPrefix+"DescribeRepositoryCreationTemplates", `{}`, true)
	if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Internal Server Error") {
		t.Errorf("unsupported: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := ecrClient(s, "us-east-1", staticCreds)
	if _, err := c.DescribeRepositoryCreationTemplates(t.Context(), &awsecr.DescribeRepositoryCreationTemplatesInput{}); err == nil {
		t.Error("SDK call to an unsupported operation succeeded")
	}
	if n := s.Calls().Get("DescribeRepositoryCreationTemplates"); n != 4 {
		t.Errorf("calls = %d, want 1 raw + 3 SDK attempts (500 is retried)", n)
	}
	if _, err := c.DescribeRepositories(t.Context(), &awsecr.DescribeRepositoriesInput{}); err != nil {
		t.Errorf("other operations must keep working: %v", err)
	}
}
