package ecr

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// otherAccount is a second account reached through AssumeRole.
const otherAccount = "210987654321"

var staticCreds = credentials.NewStaticCredentialsProvider("AKIDTESTBASE", "test-secret", "")

// startServer runs an emulator on loopback for the duration of the test.
func startServer(t *testing.T, o Options) *testServer {
	t.Helper()
	s := New(o)
	web := httptest.NewServer(s.Handler())
	t.Cleanup(web.Close)
	return &testServer{Server: s, web: web}
}

// testServer is an emulator and the test server it is served on.
type testServer struct {
	*Server
	web *httptest.Server
}

// URL is the emulator's base URL.
func (s *testServer) URL() string { return s.web.URL }

// fastRetryer keeps the SDK's retry logic (which codes retry, how many
// attempts) but without waiting or a client-side retry quota.
func fastRetryer(attempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		o.RateLimiter = ratelimit.None
	})
}

func ecrClient(s *testServer, region string, creds aws.CredentialsProvider) *awsecr.Client {
	return awsecr.New(awsecr.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  creds,
		Retryer:      fastRetryer(3),
	})
}

func stsClient(s *testServer, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  creds,
		Retryer:      fastRetryer(3),
	})
}

// apiCode returns the AWS error code and HTTP status of err.
func apiCode(t *testing.T, err error) (string, int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

func wildcard(filters ...string) []types.ImageTagMutabilityExclusionFilter {
	out := make([]types.ImageTagMutabilityExclusionFilter, len(filters))
	for i, f := range filters {
		out[i] = types.ImageTagMutabilityExclusionFilter{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String(f)}
	}
	return out
}

func filterValues(fs []types.ImageTagMutabilityExclusionFilter) []string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Filter))
	}
	return out
}

// listNames drains DescribeRepositories with the SDK paginator.
func listNames(ctx context.Context, t *testing.T, c *awsecr.Client, limit int32) (names []string, pages int) {
	t.Helper()
	p := awsecr.NewDescribeRepositoriesPaginator(c, &awsecr.DescribeRepositoriesInput{}, func(o *awsecr.DescribeRepositoriesPaginatorOptions) {
		o.Limit = limit
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, r := range out.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	return names, pages
}

func staticProvider(akid, secret, token string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(akid, secret, token)
}

// stscredsProvider is what the ECR adapter does for role_arns.
func stscredsProvider(c *sts.Client, role string) aws.CredentialsProvider {
	return stscreds.NewAssumeRoleProvider(c, role, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "immutag-test" })
}
