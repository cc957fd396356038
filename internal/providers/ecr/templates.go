package ecr

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/providers"
)

const (
	targetTemplate = "repository-creation-template"
	rootPrefix     = "ROOT"
	opCreateTmpl   = "CreateRepositoryCreationTemplate"
	opUpdateTmpl   = "UpdateRepositoryCreationTemplate"
)

// appliedForNew is what a template immutag creates applies to: pushes and
// replication. Not PULL_THROUGH_CACHE: ECR must be able to refresh the tags
// of a cached repository, so those must not start immutable.
var appliedForNew = []types.RCTAppliedFor{
	types.RCTAppliedForCreateOnPush,
	types.RCTAppliedForReplication,
}

// PlanDefaults plans, per scope, a ROOT repository creation template whose
// tags are immutable except the policy's allowed patterns
// (IMMUTABLE_WITH_EXCLUSION, or IMMUTABLE when nothing is allowed), so
// repositories ECR creates on push or by replication start the way the
// policy wants existing ones. Templates do not affect plain CreateRepository
// calls; the sweep still covers those. An existing ROOT template that also
// applies to PULL_THROUGH_CACHE is held back: tightening it would make
// cached repositories immutable.
// Scopes that cannot be read are reported in the joined error, each naming
// its scope; the changes for the other scopes are still returned.
func (p *Provider) PlanDefaults(ctx context.Context, pol providers.FixPolicy) ([]providers.Change, error) {
	ss, err := p.scopeList(ctx)
	if err != nil {
		return nil, err
	}
	var (
		out  []providers.Change
		errs []error
	)
	for _, sc := range ss {
		t, err := rootTemplate(ctx, sc)
		if err != nil {
			errs = append(errs, templateErr(sc, "describe repository creation templates", err))
			continue
		}
		c, err := p.planTemplate(ctx, sc, t, pol)
		if err != nil {
			errs = append(errs, templateErr(sc, "plan the ROOT template", err))
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func templateErr(sc *scope, what string, err error) error {
	if errors.Is(err, providers.ErrUnsupported) {
		return fmt.Errorf("scope %s: %s: repository creation templates are not supported by this endpoint: %w", sc.name, what, err)
	}
	return fmt.Errorf("scope %s: %s: %w", sc.name, what, err)
}

func (p *Provider) planTemplate(ctx context.Context, sc *scope, t *types.RepositoryCreationTemplate, pol providers.FixPolicy) (providers.Change, error) {
	c := providers.Change{
		Provider:   p.name,
		Kind:       providers.KindECR,
		Scope:      sc.name,
		Repository: rootPrefix,
		Target:     targetTemplate,
		Writes:     1,
	}
	if err := providers.SetRef(&c, Ref{Account: sc.account, Region: sc.region, Repository: rootPrefix, Template: true}); err != nil {
		return c, err
	}
	if t == nil {
		c.From = providers.Immutability{Mode: providers.ModeMutable,
			Note: "no ROOT repository creation template: repositories ECR creates default to MUTABLE"}
		c.To = targetImmutability(policyFilters(pol))
		c.Action = fmt.Sprintf("%s(prefix=ROOT, appliedFor=[CREATE_ON_PUSH, REPLICATION], imageTagMutability=%s%s)",
			opCreateTmpl, c.To.Native, filterArg(c.To.MutablePatterns))
		return c, nil
	}
	// The same planning as for an existing repository: only ever narrower.
	plan, err := p.Plan(ctx, providers.Repository{Provider: p.name, Kind: providers.KindECR, Scope: sc.name, Name: rootPrefix,
		Immutability: immutability(t.ImageTagMutability, t.ImageTagMutabilityExclusionFilters)}, pol)
	if err != nil {
		return c, err
	}
	c.From, c.To = plan.From, plan.To
	if plan.Noop {
		return noop(c), nil
	}
	c.Action = fmt.Sprintf("%s(prefix=ROOT, imageTagMutability=%s%s, other fields unchanged)", opUpdateTmpl, c.To.Native, filterArg(c.To.MutablePatterns))
	if slices.Contains(t.AppliedFor, types.RCTAppliedForPullThroughCache) {
		c.HeldBack = "the ROOT repository creation template also applies to PULL_THROUGH_CACHE: tightening it would make cached repositories immutable, and ECR must refresh their tags; give pull-through-cache repositories their own template (or remove PULL_THROUGH_CACHE from appliedFor) and run again"
	}
	return c, nil
}

// policyFilters are the policy's allowed patterns ECR can keep as
// exclusion filters (its syntax, at most five, never a pattern of only *).
func policyFilters(pol providers.FixPolicy) []string {
	var out []string
	for _, a := range pol.MutableTagsAllowed {
		a = strings.TrimSpace(a)
		if len(out) == maxFilters {
			break
		}
		if filterRE.MatchString(a) && !allStars(a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func filterArg(fs []string) string {
	if len(fs) == 0 {
		return ""
	}
	return ", imageTagMutabilityExclusionFilters=[" + strings.Join(fs, ", ") + "]"
}

func exclusionFilters(fs []string) []types.ImageTagMutabilityExclusionFilter {
	var out []types.ImageTagMutabilityExclusionFilter
	for _, f := range fs {
		out = append(out, types.ImageTagMutabilityExclusionFilter{
			Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard,
		})
	}
	return out
}

// rootTemplate returns the ROOT template, or nil when there is none.
func rootTemplate(ctx context.Context, sc *scope) (*types.RepositoryCreationTemplate, error) {
	out, err := sc.api.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{
		Prefixes: []string{rootPrefix},
	})
	if err != nil {
		err = apiError(err, true)
		if errors.Is(err, providers.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	for i := range out.RepositoryCreationTemplates {
		if aws.ToString(out.RepositoryCreationTemplates[i].Prefix) == rootPrefix {
			return &out.RepositoryCreationTemplates[i], nil
		}
	}
	return nil, nil
}

// applyTemplate re-reads the template right before writing, so an update
// sends back the fields as they are now rather than as they were at plan time.
func (p *Provider) applyTemplate(ctx context.Context, c providers.Change, sc *scope, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	want := c.To
	if want.Native != nativeImmutable && want.Native != nativeImmutableExclude {
		return res, fmt.Errorf("scope %s: apply ROOT template: refusing to write imageTagMutability %q", sc.name, want.Native)
	}
	cur, err := rootTemplate(ctx, sc)
	if err != nil {
		return res, templateErr(sc, "describe repository creation templates", err)
	}
	if cur != nil && slices.Contains(cur.AppliedFor, types.RCTAppliedForPullThroughCache) {
		return res, fmt.Errorf("scope %s: the ROOT repository creation template applies to PULL_THROUGH_CACHE now: not tightened, cached repositories must stay mutable", sc.name)
	}
	if cur == nil || !sameSetting(immutability(cur.ImageTagMutability, cur.ImageTagMutabilityExclusionFilters), want) {
		rec := providers.WriteRecord{Target: rootPrefix, After: want.Native + filterSuffix(want.MutablePatterns)}
		if cur == nil {
			rec.Call, rec.Before = opCreateTmpl, "(none)"
			_, err = sc.api.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
				Prefix:                             aws.String(rootPrefix),
				AppliedFor:                         appliedForNew,
				ImageTagMutability:                 types.ImageTagMutability(want.Native),
				ImageTagMutabilityExclusionFilters: exclusionFilters(want.MutablePatterns),
				Description:                        aws.String("immutag: repositories ECR creates on push or by replication start with immutable tags"),
			})
		} else {
			rec.Call = opUpdateTmpl
			rec.Before = string(cur.ImageTagMutability) + filterSuffix(filterPatterns(cur.ImageTagMutabilityExclusionFilters))
			_, err = sc.api.UpdateRepositoryCreationTemplate(ctx, &ecr.UpdateRepositoryCreationTemplateInput{
				Prefix:                  cur.Prefix,
				AppliedFor:              cur.AppliedFor,
				CustomRoleArn:           cur.CustomRoleArn,
				Description:             cur.Description,
				EncryptionConfiguration: cur.EncryptionConfiguration,
				LifecyclePolicy:         cur.LifecyclePolicy,
				RepositoryPolicy:        cur.RepositoryPolicy,
				ResourceTags:            cur.ResourceTags,
				// Sent explicitly: left out, ECR documents MUTABLE as the default.
				ImageTagMutability:                 types.ImageTagMutability(want.Native),
				ImageTagMutabilityExclusionFilters: exclusionFilters(want.MutablePatterns),
			})
		}
		err = apiError(err, true)
		if err != nil {
			rec.Err = err.Error()
		}
		if o != nil {
			o.Write(c, rec)
		}
		if err != nil {
			return res, templateErr(sc, rec.Call, err)
		}
		res.Writes = 1
		if o != nil {
			o.Progress(c, 1, 1)
		}
	}
	after, err := rootTemplate(ctx, sc)
	if err != nil {
		return res, fmt.Errorf("%w: %w", providers.ErrReadBack, templateErr(sc, "read back repository creation template", err))
	}
	if after == nil {
		res.After = providers.Immutability{Mode: providers.ModeUnknown, Error: "ROOT template missing on read-back"}
		return res, nil
	}
	res.After = immutability(after.ImageTagMutability, after.ImageTagMutabilityExclusionFilters)
	res.Verified = sameSetting(res.After, want) && !slices.Contains(after.AppliedFor, types.RCTAppliedForPullThroughCache)
	return res, nil
}
