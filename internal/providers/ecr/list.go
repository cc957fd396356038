package ecr

import (
	"context"
	"errors"
	"fmt"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/providers"
)

// Native imageTagMutability values.
const (
	nativeMutable          = string(types.ImageTagMutabilityMutable)
	nativeImmutable        = string(types.ImageTagMutabilityImmutable)
	nativeImmutableExclude = string(types.ImageTagMutabilityImmutableWithExclusion)
	nativeMutableExclude   = string(types.ImageTagMutabilityMutableWithExclusion)
)

// Warning codes.
const (
	warnPTCLookup      = "ptc-lookup-failed"
	warnPTCUnsupported = "ptc-unsupported"
	warnPTCRoot        = "ptc-root-prefix"
)

// Repositories streams every repository of one account x region. The
// pull-through-cache rules are read first (they are few: 50 per registry by
// quota) so cached repositories can carry their default exemption.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	sc, err := p.scopeFor(ctx, s.Handle, s.Name)
	if err != nil {
		return err
	}
	log := p.log.With("scope", sc.name)
	prefixes, hold, err := p.ptcPrefixes(ctx, sc, e)
	if err != nil {
		return err
	}

	// A hand-written loop rather than the SDK paginator: the paginator either
	// loops forever on a repeated token or (StopOnDuplicateToken) stops
	// silently, and a silently short listing would hide repositories.
	in := &ecr.DescribeRepositoriesInput{RegistryId: aws.String(sc.account), MaxResults: aws.Int32(pageSize)}
	pages, n := 0, 0
	check := &providers.EntryCheck{Provider: p.name, Kind: providers.KindECR, Scope: sc.name}
	// Every token given so far: a token that comes back (right away or
	// after other pages) would replay earlier pages for ever.
	seen := map[string]bool{}
	for {
		out, err := sc.api.DescribeRepositories(ctx, in)
		if err != nil {
			return fmt.Errorf("scope %s: describe repositories: %w", sc.name, apiError(err, false))
		}
		pages++
		// A 200 whose body is not a DescribeRepositories answer (an error
		// object from a proxy) decodes to no list at all, which is not "no
		// repositories".
		if out.Repositories == nil {
			return fmt.Errorf("scope %s: describe repositories: %w: the answer has no \"repositories\"", sc.name, httpapi.ErrMissingField)
		}
		for _, r := range out.Repositories {
			n++
			if bad, ok := check.Invalid(aws.ToString(r.RepositoryName)); ok {
				if err := e.Repository(bad); err != nil {
					return err
				}
				continue
			}
			repo := p.repository(sc, r, prefixes)
			repo.HoldWrites = hold
			if err := e.Repository(repo); err != nil {
				return err
			}
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			log.Debug("listed scope", "repositories", n, "pages", pages)
			return nil
		}
		if seen[next] || next == aws.ToString(in.NextToken) {
			return fmt.Errorf("scope %s: describe repositories: the API repeated page token after %d repositories", sc.name, n)
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}

// optionalLookup retries less than the default: endpoints without the
// pull-through-cache API (moto, private ECR-compatible services) answer 5xx,
// which must not stall every scope for the full backoff.
func optionalLookup(o *ecr.Options) { o.RetryMaxAttempts = 3 }

// ptcPrefixes returns the pull-through-cache repository prefixes of a scope,
// from the config when pull_through_cache_prefixes declares them, else from
// DescribePullThroughCacheRules.
//
// When the rules cannot be read (throttled, denied, 5xx after retries) the
// scope's repositories are still listed, but hold says why none of them may
// be written to: any of them could be a cached repository, which must stay
// mutable for ECR to refresh it. An endpoint that does not implement the
// operation at all has no rules; that is said in a warning.
func (p *Provider) ptcPrefixes(ctx context.Context, sc *scope, e providers.Emitter) (prefixes []string, hold string, err error) {
	if p.ptcDeclared != nil {
		for _, pre := range p.ptcDeclared {
			prefixes = p.addPrefix(prefixes, sc, e, pre, "declared in pull_through_cache_prefixes")
		}
		return prefixes, "", nil
	}
	in := &ecr.DescribePullThroughCacheRulesInput{RegistryId: aws.String(sc.account)}
	seen := map[string]bool{}
	for {
		out, err := sc.api.DescribePullThroughCacheRules(ctx, in, optionalLookup)
		if err != nil {
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			err = apiError(err, true)
			kind := providers.ClassOf(err)
			if kind == providers.ErrUnsupported {
				p.log.Warn("pull-through cache rules not supported by the endpoint; counting none", "scope", sc.name, "error", message(err))
				e.Warn(providers.Warning{Provider: p.name, Scope: sc.name, Code: warnPTCUnsupported,
					Message: fmt.Sprintf("scope %s: the endpoint does not implement DescribePullThroughCacheRules (%s); counted as no pull-through-cache rules",
						sc.name, message(err))})
				return nil, "", nil
			}
			p.log.Warn("pull-through cache lookup failed", "scope", sc.name, "error_kind", kind, "error", message(err))
			hold = fmt.Sprintf("the pull-through-cache rules of %s could not be read (DescribePullThroughCacheRules: %s: %s), so this repository may be a cache that must stay mutable; grant ecr:DescribePullThroughCacheRules or declare pull_through_cache_prefixes",
				sc.name, kind, message(err))
			e.Warn(providers.Warning{Provider: p.name, Scope: sc.name, Code: warnPTCLookup,
				Message: fmt.Sprintf("scope %s: DescribePullThroughCacheRules failed (%s): %s; no fix is written to this scope's repositories (held back): any of them could be a pull-through-cache repository",
					sc.name, kind, message(err))})
			return nil, hold, nil
		}
		for _, r := range out.PullThroughCacheRules {
			prefixes = p.addPrefix(prefixes, sc, e, aws.ToString(r.EcrRepositoryPrefix), "upstream "+aws.ToString(r.UpstreamRegistryUrl))
		}
		next := aws.ToString(out.NextToken)
		if next == "" || seen[next] || next == aws.ToString(in.NextToken) {
			return prefixes, "", nil
		}
		seen[next] = true
		in.NextToken = aws.String(next)
	}
}

func (p *Provider) addPrefix(prefixes []string, sc *scope, e providers.Emitter, pre, origin string) []string {
	pre = strings.TrimSuffix(strings.TrimSpace(pre), "/")
	switch pre {
	case "":
		return prefixes
	case rootPrefix:
		// Cached repositories then carry the upstream names unprefixed
		// and cannot be told apart from ordinary ones by name.
		e.Warn(providers.Warning{
			Provider: p.name,
			Scope:    sc.name,
			Code:     warnPTCRoot,
			Message: fmt.Sprintf("scope %s: a pull-through cache rule uses prefix ROOT (%s); its repositories cannot be recognised by name and are not exempted",
				sc.name, origin),
		})
		return prefixes
	}
	return append(prefixes, pre)
}

func (p *Provider) repository(sc *scope, r types.Repository, ptc []string) providers.Repository {
	name := aws.ToString(r.RepositoryName)
	out := providers.Repository{
		Provider:     p.name,
		Kind:         providers.KindECR,
		Scope:        sc.name,
		Name:         name,
		URI:          aws.ToString(r.RepositoryUri),
		Immutability: immutability(r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters),
		Handle:       sc,
	}
	for _, pre := range ptc {
		if name == pre || strings.HasPrefix(name, pre+"/") {
			out.DefaultExemption = fmt.Sprintf("pull-through cache repository (prefix %s): ECR must be able to refresh cached tags", pre)
			break
		}
	}
	return out
}

// immutability maps ECR's setting to the domain model. Anything not
// understood is unknown (fail closed).
func immutability(m types.ImageTagMutability, fs []types.ImageTagMutabilityExclusionFilter) providers.Immutability {
	native := string(m)
	pats := filterPatterns(fs)
	im := providers.Immutability{Native: native}
	switch native {
	case nativeImmutable:
		im.Mode = providers.ModeImmutable
		if len(pats) > 0 {
			// Filters are not expected with plain IMMUTABLE; if ECR ever
			// reports some, assume they are exclusions rather than ignore them.
			im.Mode, im.MutablePatterns = providers.ModePartial, pats
		}
	case nativeMutable:
		im.Mode = providers.ModeMutable
	case nativeImmutableExclude:
		im.Mode, im.MutablePatterns = providers.ModePartial, pats
	case nativeMutableExclude:
		im.Mode = providers.ModePartial
		im.ImmutablePatterns = pats
		im.MutablePatterns = []string{"*"}
		im.Note = "only tags matching the filters are immutable; every other tag can be overwritten"
	case "":
		im.Mode = providers.ModeUnknown
		im.Error = "DescribeRepositories returned no imageTagMutability"
	default:
		im.Mode = providers.ModeUnknown
		im.Error = fmt.Sprintf("unrecognised imageTagMutability %q", native)
	}
	return im
}

// filterPatterns returns the filters as patterns. Only WILDCARD exists
// today; another type keeps its name as a prefix so it can never equal an
// allowed pattern by accident.
func filterPatterns(fs []types.ImageTagMutabilityExclusionFilter) []string {
	if len(fs) == 0 {
		return nil
	}
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		v := aws.ToString(f.Filter)
		if f.FilterType != "" && f.FilterType != types.ImageTagMutabilityExclusionFilterTypeWildcard {
			v = string(f.FilterType) + ":" + v
		}
		out = append(out, v)
	}
	return out
}

// describeOne reads one repository back (after a write).
func describeOne(ctx context.Context, sc *scope, name string) (types.Repository, error) {
	out, err := sc.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{
		RegistryId:      aws.String(sc.account),
		RepositoryNames: []string{name},
	})
	if err != nil {
		return types.Repository{}, apiError(err, false)
	}
	for _, r := range out.Repositories {
		if aws.ToString(r.RepositoryName) == name {
			return r, nil
		}
	}
	return types.Repository{}, errors.New("repository missing from DescribeRepositories answer")
}
