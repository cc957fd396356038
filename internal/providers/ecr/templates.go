package ecr

import (
	"context"
	"errors"
	"fmt"

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

// appliedForAll covers every way ECR creates a repository on its own.
var appliedForAll = []types.RCTAppliedFor{
	types.RCTAppliedForCreateOnPush,
	types.RCTAppliedForPullThroughCache,
	types.RCTAppliedForReplication,
}

// PlanDefaults plans, per scope, a ROOT repository creation template with
// IMMUTABLE tags, so repositories ECR creates on the caller's behalf (create
// on push, pull-through cache, replication) start immutable. Templates do not
// affect plain CreateRepository calls; the sweep still covers those.
// Scopes that cannot be read are reported in the joined error, each naming
// its scope; the changes for the other scopes are still returned.
func (p *Provider) PlanDefaults(ctx context.Context, _ providers.FixPolicy) ([]providers.Change, error) {
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
		out = append(out, planTemplate(p.name, sc, t))
	}
	return out, errors.Join(errs...)
}

func templateErr(sc *scope, what string, err error) error {
	if providers.KindOf(err) == providers.ErrUnsupported {
		return fmt.Errorf("scope %s: %s: repository creation templates are not supported by this endpoint: %w", sc.name, what, err)
	}
	return fmt.Errorf("scope %s: %s: %w", sc.name, what, err)
}

func planTemplate(provider string, sc *scope, t *types.RepositoryCreationTemplate) providers.Change {
	c := providers.Change{
		Provider:   provider,
		Kind:       providers.KindECR,
		Scope:      sc.name,
		Repository: rootPrefix,
		Target:     targetTemplate,
		To:         providers.Immutability{Mode: providers.ModeImmutable, Native: nativeImmutable},
		Handle:     sc,
		Writes:     1,
	}
	if t == nil {
		c.From = providers.Immutability{Mode: providers.ModeMutable,
			Note: "no ROOT repository creation template: repositories ECR creates default to MUTABLE"}
		c.Action = fmt.Sprintf("%s(prefix=ROOT, appliedFor=[CREATE_ON_PUSH, PULL_THROUGH_CACHE, REPLICATION], imageTagMutability=IMMUTABLE)", opCreateTmpl)
		return c
	}
	c.From = immutability(t.ImageTagMutability, t.ImageTagMutabilityExclusionFilters)
	if t.ImageTagMutability == types.ImageTagMutabilityImmutable && len(t.ImageTagMutabilityExclusionFilters) == 0 {
		return noop(c)
	}
	c.Action = fmt.Sprintf("%s(prefix=ROOT, imageTagMutability=IMMUTABLE, other fields unchanged)", opUpdateTmpl)
	return c
}

// rootTemplate returns the ROOT template, or nil when there is none.
func rootTemplate(ctx context.Context, sc *scope) (*types.RepositoryCreationTemplate, error) {
	out, err := sc.api.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{
		Prefixes: []string{rootPrefix},
	})
	if err != nil {
		err = apiError(err, true)
		if providers.KindOf(err) == providers.ErrNotFound {
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
func (p *Provider) applyTemplate(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	sc, err := p.scopeFor(ctx, c.Handle, c.Scope)
	if err != nil {
		return res, fmt.Errorf("apply repository creation template: %w", err)
	}
	cur, err := rootTemplate(ctx, sc)
	if err != nil {
		return res, templateErr(sc, "describe repository creation templates", err)
	}
	if cur == nil || cur.ImageTagMutability != types.ImageTagMutabilityImmutable || len(cur.ImageTagMutabilityExclusionFilters) > 0 {
		rec := providers.WriteRecord{Target: rootPrefix, After: nativeImmutable}
		if cur == nil {
			rec.Call, rec.Before = opCreateTmpl, "(none)"
			_, err = sc.api.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
				Prefix:             aws.String(rootPrefix),
				AppliedFor:         appliedForAll,
				ImageTagMutability: types.ImageTagMutabilityImmutable,
				Description:        aws.String("immutag: repositories ECR creates start with immutable tags"),
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
				ImageTagMutability: types.ImageTagMutabilityImmutable,
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
		return res, templateErr(sc, "read back repository creation template", err)
	}
	if after == nil {
		res.After = providers.Immutability{Mode: providers.ModeUnknown, Error: "ROOT template missing on read-back"}
		return res, nil
	}
	res.After = immutability(after.ImageTagMutability, after.ImageTagMutabilityExclusionFilters)
	res.Verified = after.ImageTagMutability == types.ImageTagMutabilityImmutable && len(after.ImageTagMutabilityExclusionFilters) == 0
	return res, nil
}
