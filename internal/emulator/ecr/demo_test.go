package ecr

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/emulator"
)

// TestDemo drives the demo the way the adapter will: the SDK's default
// chain reads Env(), ECR goes to Provider().Endpoint, STS to
// AWS_ENDPOINT_URL_STS.
func TestDemo(t *testing.T) {
	d, err := StartDemo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	p := d.Provider()
	if d.Kind() != "ecr" || p.Kind != "ecr" || p.Name != "aws-demo" || p.Endpoint == "" || !slices.Equal(p.Settings.(config.Keys)["regions"].([]string), []string{"us-east-1", "eu-west-1"}) {
		t.Fatalf("provider = %+v", p)
	}
	env := d.Env()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_STS"} {
		if env[k] == "" {
			t.Errorf("Env() lacks %s", k)
		}
	}
	isolateAWSEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx := t.Context()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryer(func() aws.Retryer { return fastRetryer(3) }))
	if err != nil {
		t.Fatal(err)
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatalf("STS via AWS_ENDPOINT_URL_STS: %v", err)
	}
	if aws.ToString(id.Account) != DefaultAccount {
		t.Errorf("account %s", aws.ToString(id.Account))
	}

	want := map[string]map[string]string{
		"us-east-1": {
			"payments/api": Mutable, "payments/worker": Immutable, "web/frontend": ImmutableWithExclusion,
			"web/legacy": ImmutableWithExclusion, "ml/model": MutableWithExclusion, "ecr-public/library/nginx": Mutable,
		},
		"eu-west-1": {"data/etl": Mutable, "data/reports": Immutable},
	}
	clients := map[string]*awsecr.Client{}
	for _, region := range p.Settings.(config.Keys)["regions"].([]string) {
		c := awsecr.NewFromConfig(cfg, func(o *awsecr.Options) { o.Region = region; o.BaseEndpoint = aws.String(p.Endpoint) })
		clients[region] = c
		got := map[string]string{}
		pg := awsecr.NewDescribeRepositoriesPaginator(c, &awsecr.DescribeRepositoriesInput{})
		for pg.HasMorePages() {
			out, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Repositories {
				got[aws.ToString(r.RepositoryName)] = string(r.ImageTagMutability)
				if r.ImageTagMutability == types.ImageTagMutabilityImmutableWithExclusion && len(r.ImageTagMutabilityExclusionFilters) == 0 {
					t.Errorf("%s has no exclusion filters", aws.ToString(r.RepositoryName))
				}
			}
		}
		if !maps.Equal(got, want[region]) {
			t.Errorf("%s: %v, want %v", region, got, want[region])
		}
	}
	for region, repos := range want {
		for name := range repos {
			st, _ := d.(*demo).s.Repository("", region, name)
			if st.Tags["v1.0.0"] == "" || st.Tags["latest"] == "" || st.Tags["v1.0.0"] == st.Tags["latest"] {
				t.Errorf("%s/%s tags = %v", region, name, st.Tags)
			}
		}
	}
	rules, err := clients["us-east-1"].DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.PullThroughCacheRules) != 1 || aws.ToString(rules.PullThroughCacheRules[0].EcrRepositoryPrefix) != "ecr-public" {
		t.Errorf("PTC rules = %+v", rules.PullThroughCacheRules)
	}

	// The overwrite target is movable before the fix and refused after it.
	scope, repo, tag := d.OverwriteTarget()
	if err := d.PushTag(ctx, scope, repo, tag); err != nil {
		t.Fatalf("push before fix: %v", err)
	}
	if _, err := clients["us-east-1"].PutImageTagMutability(ctx, &awsecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String(repo), ImageTagMutability: types.ImageTagMutabilityImmutable,
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.PushTag(ctx, scope, repo, tag); !errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("push after fix: %v, want ErrTagImmutable", err)
	}
	if err := d.PushTag(ctx, "no-region", repo, tag); err == nil {
		t.Error("PushTag accepted a scope without a region")
	}
	if err := d.PushTag(ctx, scope, "ghost/repo", tag); err == nil || errors.Is(err, emulator.ErrTagImmutable) {
		t.Errorf("push to unknown repository: %v", err)
	}
}

func TestStartDemoCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if d, err := StartDemo(ctx); err == nil {
		_ = d.Close()
		t.Error("StartDemo ignored a canceled context")
	}
}

// isolateAWSEnv keeps the developer's AWS config, profile and IMDS out of a test.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restores the old value after the test
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PAGER", "")
}
