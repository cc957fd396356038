package ecr

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestRepositoryCreationTemplates(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()

	out, err := c.CreateRepositoryCreationTemplate(ctx, &awsecr.CreateRepositoryCreationTemplateInput{
		Prefix:             aws.String("ROOT"),
		AppliedFor:         []types.RCTAppliedFor{types.RCTAppliedForCreateOnPush, types.RCTAppliedForPullThroughCache, types.RCTAppliedForReplication},
		ImageTagMutability: types.ImageTagMutabilityImmutable,
		Description:        aws.String("default: immutable tags"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.RegistryId) != DefaultAccount || out.RepositoryCreationTemplate.ImageTagMutability != types.ImageTagMutabilityImmutable ||
		out.RepositoryCreationTemplate.CreatedAt == nil || len(out.RepositoryCreationTemplate.AppliedFor) != 3 {
		t.Errorf("create echoed %+v", out.RepositoryCreationTemplate)
	}
	_, err = c.CreateRepositoryCreationTemplate(ctx, &awsecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication},
	})
	var exists *types.TemplateAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("duplicate: want TemplateAlreadyExistsException, got %v", err)
	}

	for _, p := range []string{"prod", "team-a/", "zeta"} {
		if _, err := c.CreateRepositoryCreationTemplate(ctx, &awsecr.CreateRepositoryCreationTemplateInput{
			Prefix: aws.String(p), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForPullThroughCache},
		}); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if st, _ := s.Template("", "us-east-1", "prod"); st.Mutability != Mutable {
		t.Errorf("omitted mutability stored as %q, want MUTABLE (the documented default)", st.Mutability)
	}

	// All templates over pages of two, sorted by prefix.
	var prefixes []string
	pages := 0
	p := awsecr.NewDescribeRepositoryCreationTemplatesPaginator(c, &awsecr.DescribeRepositoryCreationTemplatesInput{},
		func(o *awsecr.DescribeRepositoryCreationTemplatesPaginatorOptions) { o.Limit = 2 })
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if aws.ToString(page.RegistryId) != DefaultAccount {
			t.Errorf("registryId %s", aws.ToString(page.RegistryId))
		}
		for _, tpl := range page.RepositoryCreationTemplates {
			prefixes = append(prefixes, aws.ToString(tpl.Prefix))
		}
	}
	if want := []string{"ROOT", "prod", "team-a/", "zeta"}; !slices.Equal(prefixes, want) || pages != 2 {
		t.Errorf("describe: %d pages %v, want %v", pages, prefixes, want)
	}
	one, err := c.DescribeRepositoryCreationTemplates(ctx, &awsecr.DescribeRepositoryCreationTemplatesInput{Prefixes: []string{"ROOT", "absent"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.RepositoryCreationTemplates) != 1 || aws.ToString(one.RepositoryCreationTemplates[0].Description) != "default: immutable tags" {
		t.Errorf("by prefix: %+v", one.RepositoryCreationTemplates)
	}

	up, err := c.UpdateRepositoryCreationTemplate(ctx, &awsecr.UpdateRepositoryCreationTemplateInput{
		Prefix:                             aws.String("prod"),
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: wildcard("latest"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if up.RepositoryCreationTemplate.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion {
		t.Errorf("update echoed %s", up.RepositoryCreationTemplate.ImageTagMutability)
	}
	st, ok := s.Template("", "us-east-1", "prod")
	if !ok || st.Mutability != ImmutableWithExclusion || !slices.Equal(st.Exclusions, []string{"latest"}) || !slices.Equal(st.AppliedFor, []string{"PULL_THROUGH_CACHE"}) {
		t.Errorf("after update: %+v", st)
	}

	// The model documents MUTABLE as what an omitted setting means; an
	// update that leaves it out loosens the template.
	if _, err := c.UpdateRepositoryCreationTemplate(ctx, &awsecr.UpdateRepositoryCreationTemplateInput{
		Prefix: aws.String("prod"), Description: aws.String("only the description"),
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Template("", "us-east-1", "prod"); st.Mutability != Mutable || st.Description != "only the description" {
		t.Errorf("update without mutability: %+v", st)
	}

	_, err = c.UpdateRepositoryCreationTemplate(ctx, &awsecr.UpdateRepositoryCreationTemplateInput{
		Prefix: aws.String("ghost"), ImageTagMutability: types.ImageTagMutabilityImmutable,
	})
	var nf *types.TemplateNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("update unknown: want TemplateNotFoundException, got %v", err)
	}
	_, err = c.CreateRepositoryCreationTemplate(ctx, &awsecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("Bad Prefix"), AppliedFor: []types.RCTAppliedFor{types.RCTAppliedForReplication},
	})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("bad prefix: want ValidationException, got %v", err)
	}
	// The SDK refuses a missing appliedFor itself, so send it raw.
	resp, body := rawCall(t, s, targetPrefix+"CreateRepositoryCreationTemplate", `{"prefix":"noapplied"}`, true)
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"ValidationException"`) {
		t.Errorf("no appliedFor: %d %s", resp.StatusCode, body)
	}
	_, err = c.UpdateRepositoryCreationTemplate(ctx, &awsecr.UpdateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion, ImageTagMutabilityExclusionFilters: wildcard("bad/filter"),
	})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("bad filter: want InvalidParameterException, got %v", err)
	}
	if st, _ := s.Template("", "us-east-1", "ROOT"); st.Mutability != Immutable {
		t.Errorf("refused update changed ROOT to %s", st.Mutability)
	}
	if _, ok := s.Template("", "eu-west-1", "ROOT"); ok {
		t.Error("template visible in another region")
	}
}

func TestPullThroughCacheRules(t *testing.T) {
	s := startServer(t, Options{})
	c := ecrClient(s, "us-east-1", staticCreds)
	ctx := t.Context()
	if err := s.CreatePullThroughCacheRule("", "us-east-1", "ecr-public", "public.ecr.aws"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePullThroughCacheRule("", "us-east-1", "ecr-public", "public.ecr.aws"); err == nil {
		t.Error("Go API accepted a duplicate rule")
	}
	for _, in := range []*awsecr.CreatePullThroughCacheRuleInput{
		{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io"), UpstreamRegistry: types.UpstreamRegistryQuay},
		{EcrRepositoryPrefix: aws.String("k8s"), UpstreamRegistryUrl: aws.String("registry.k8s.io")},
	} {
		out, err := c.CreatePullThroughCacheRule(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.EcrRepositoryPrefix) != aws.ToString(in.EcrRepositoryPrefix) || out.CreatedAt == nil {
			t.Errorf("create echoed %+v", out)
		}
	}
	_, err := c.CreatePullThroughCacheRule(ctx, &awsecr.CreatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("quay"), UpstreamRegistryUrl: aws.String("quay.io")})
	var dup *types.PullThroughCacheRuleAlreadyExistsException
	if !errors.As(err, &dup) {
		t.Errorf("duplicate: want PullThroughCacheRuleAlreadyExistsException, got %v", err)
	}

	var prefixes []string
	p := awsecr.NewDescribePullThroughCacheRulesPaginator(c, &awsecr.DescribePullThroughCacheRulesInput{},
		func(o *awsecr.DescribePullThroughCacheRulesPaginatorOptions) { o.Limit = 1 })
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.PullThroughCacheRules {
			prefixes = append(prefixes, aws.ToString(r.EcrRepositoryPrefix))
		}
	}
	if want := []string{"ecr-public", "k8s", "quay"}; !slices.Equal(prefixes, want) || pages != 3 {
		t.Errorf("describe: %d pages %v", pages, prefixes)
	}
	one, err := c.DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"ecr-public"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.PullThroughCacheRules) != 1 || aws.ToString(one.PullThroughCacheRules[0].UpstreamRegistryUrl) != "public.ecr.aws" {
		t.Errorf("by prefix: %+v", one.PullThroughCacheRules)
	}
	_, err = c.DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{EcrRepositoryPrefixes: []string{"absent"}})
	var nf *types.PullThroughCacheRuleNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown prefix: want PullThroughCacheRuleNotFoundException, got %v", err)
	}
	west, err := ecrClient(s, "eu-west-1", staticCreds).DescribePullThroughCacheRules(ctx, &awsecr.DescribePullThroughCacheRulesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(west.PullThroughCacheRules) != 0 {
		t.Errorf("rules leaked into eu-west-1: %+v", west.PullThroughCacheRules)
	}
}
