package ecr

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// testTuning keeps SDK retries real but fast.
var testTuning = tuning{maxBackoff: time.Millisecond}

// isolateAWS points the SDK's default chain at dummy static credentials and
// away from anything on the machine (profiles, IMDS, endpoint variables).
func isolateAWS(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, f := range []string{cfgFile, credFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIMMUTAGTEST00001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "dummy-secret-for-tests")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR", "AWS_ENDPOINT_URL_STS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

func newTestProvider(t *testing.T, p config.Provider) *Provider {
	t.Helper()
	if p.Name == "" {
		p.Name = "aws-test"
	}
	p.Kind = providers.KindECR
	pr, err := newProvider(t.Context(), p, providers.Options{}, testTuning)
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	return pr
}

func scopeNames(t *testing.T, p *Provider) []string {
	t.Helper()
	ss, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatalf("scopes: %v", err)
	}
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// newLoopbackServer serves h on 127.0.0.1 until the test ends.
func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func staticTestCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), "")
}

func configProvider(regions, roles []string, endpoint string) config.Provider {
	return config.Provider{Name: "aws-test", Kind: providers.KindECR, Settings: &Settings{Regions: regions, RoleARNs: roles}, Endpoint: endpoint}
}
