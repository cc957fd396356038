package ecr

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/immutag/immutag/internal/providers"
)

const (
	opPutMutability = "PutImageTagMutability"
	// maxFilters is ECR's limit on exclusion filters per repository.
	maxFilters = 5
)

// filterRE is ECR's syntax for an exclusion filter.
var filterRE = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// Ref is the target of an ECR change (providers.Change.Ref): a repository
// of one account and region, or with Template set that scope's ROOT
// repository creation template. The setting written is the change's To.
type Ref struct {
	Account    string `json:"account"`
	Region     string `json:"region"`
	Repository string `json:"repository,omitempty"`
	Template   bool   `json:"template,omitempty"`
}

// refOf is the Ref of a listed repository: its scope from the listing's
// handle, or from the scope name (ACCOUNT/REGION) for a repository named
// by a webhook.
func refOf(r providers.Repository) (Ref, error) {
	if sc, ok := r.Handle.(*scope); ok && sc != nil {
		return Ref{Account: sc.account, Region: sc.region, Repository: r.Name}, nil
	}
	acct, region, ok := strings.Cut(r.Scope, "/")
	if !ok || !accountRE.MatchString(acct) || region == "" || strings.Contains(region, "/") {
		return Ref{}, fmt.Errorf("plan %s: scope %q is not ACCOUNT/REGION", r.Name, r.Scope)
	}
	return Ref{Account: acct, Region: region, Repository: r.Name}, nil
}

// Plan says what PutImageTagMutability call (if any) makes the repository
// satisfy the policy. It only ever narrows what stays mutable: exclusions
// are dropped unless the policy allows them, and new exclusions appear only
// when moving away from a setting where every tag was mutable anyway.
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	c := providers.Change{
		Provider:   p.name,
		Kind:       providers.KindECR,
		Scope:      r.Scope,
		Repository: r.Name,
		URI:        r.URI,
		From:       r.Immutability,
	}
	ref, err := refOf(r)
	if err != nil {
		return c, err
	}
	if err := providers.SetRef(&c, ref); err != nil {
		return c, err
	}
	switch r.Mode {
	case providers.ModeUnknown, providers.ModeUnsupported, "":
		return c, fmt.Errorf("plan %s in %s: the setting was not read (%s)", r.Name, r.Scope, r.Error)
	case providers.ModeImmutable:
		return noop(c), nil
	}
	allowed := allowedSet(pol.MutableTagsAllowed)
	var target []string
	switch r.Native {
	case nativeImmutable, nativeImmutableExclude:
		for _, f := range r.MutablePatterns {
			if allowed[strings.TrimSpace(f)] && !slices.Contains(target, f) {
				target = append(target, f)
			}
		}
		if len(target) == len(r.MutablePatterns) {
			return noop(c), nil
		}
	case nativeMutable, nativeMutableExclude:
		for _, a := range pol.MutableTagsAllowed {
			a = strings.TrimSpace(a)
			if len(target) == maxFilters {
				break
			}
			// MUTABLE_WITH_EXCLUSION's filters are the tags that are
			// immutable now: an allowed pattern that can match one of them
			// would make it mutable again, so it is not kept.
			if filterRE.MatchString(a) && !allStars(a) && !slices.Contains(target, a) && !intersectsAny(a, r.ImmutablePatterns) {
				target = append(target, a)
			}
		}
	default:
		return c, fmt.Errorf("plan %s in %s: unrecognised imageTagMutability %q", r.Name, r.Scope, r.Native)
	}
	c.To = targetImmutability(target)
	c.Action = putAction(r.Name, c.To.Native, target)
	c.Writes = 1
	return c, nil
}

// allowedSet holds the policy's patterns that may stay as ECR exclusions. A
// pattern of only "*" would leave every tag mutable, so it is never kept.
func allowedSet(ps []string) map[string]bool {
	m := map[string]bool{}
	for _, a := range ps {
		if a = strings.TrimSpace(a); a != "" && !allStars(a) {
			m[a] = true
		}
	}
	return m
}

func allStars(s string) bool { return strings.Trim(s, "*") == "" }

func intersectsAny(p string, patterns []string) bool {
	for _, q := range patterns {
		if globsIntersect(p, q) {
			return true
		}
	}
	return false
}

// globsIntersect reports whether some tag matches both ECR wildcard filters
// p and q (each * any run of characters, possibly empty).
func globsIntersect(p, q string) bool {
	// memo[i][j]: 0 unknown, 1 yes, 2 no, for the suffixes p[i:] and q[j:].
	memo := make([][]byte, len(p)+1)
	for i := range memo {
		memo[i] = make([]byte, len(q)+1)
	}
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		if memo[i][j] != 0 {
			return memo[i][j] == 1
		}
		var ok bool
		switch {
		case i == len(p) && j == len(q):
			ok = true
		case i < len(p) && p[i] == '*':
			// p's star matches nothing more, or takes q's next character
			// (a star of q included: both then produce the same text).
			ok = rec(i+1, j) || (j < len(q) && rec(i, j+1))
		case j < len(q) && q[j] == '*':
			ok = rec(i, j+1) || (i < len(p) && rec(i+1, j))
		case i < len(p) && j < len(q) && p[i] == q[j]:
			ok = rec(i+1, j+1)
		}
		memo[i][j] = 2
		if ok {
			memo[i][j] = 1
		}
		return ok
	}
	return rec(0, 0)
}

func targetImmutability(filters []string) providers.Immutability {
	if len(filters) == 0 {
		return providers.Immutability{Mode: providers.ModeImmutable, Native: nativeImmutable}
	}
	return providers.Immutability{Mode: providers.ModePartial, Native: nativeImmutableExclude, MutablePatterns: filters}
}

func noop(c providers.Change) providers.Change {
	c.To = c.From
	c.Noop = true
	c.Writes = 0
	c.Action = "none: imageTagMutability=" + c.From.Native + filterSuffix(c.From.MutablePatterns)
	return c
}

func putAction(repo, native string, filters []string) string {
	s := fmt.Sprintf("%s(repositoryName=%s, imageTagMutability=%s", opPutMutability, repo, native)
	if len(filters) > 0 {
		s += ", imageTagMutabilityExclusionFilters=[" + strings.Join(filters, ", ") + "]"
	}
	return s + ")"
}

func filterSuffix(fs []string) string {
	if len(fs) == 0 {
		return ""
	}
	return " [" + strings.Join(fs, ", ") + "]"
}

// Apply performs a planned change, reports the write to o, reads the
// setting back and sets Verified only when it matches the plan.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	ref, err := providers.RefOf[Ref](c, providers.KindECR)
	if err != nil {
		return res, err
	}
	sc, err := p.scopeAt(ctx, ref.Account, ref.Region)
	if err != nil {
		return res, fmt.Errorf("apply %s: %w", ref.Repository, err)
	}
	if ref.Template {
		return p.applyTemplate(ctx, c, sc, o)
	}
	repo := ref.Repository
	want := c.To
	if !c.Noop {
		if want.Native != nativeImmutable && want.Native != nativeImmutableExclude {
			// Only tightening targets are ever written, whatever the plan says.
			return res, fmt.Errorf("apply %s in %s: refusing to write imageTagMutability %q", repo, sc.name, want.Native)
		}
		in := &ecr.PutImageTagMutabilityInput{
			RegistryId:         aws.String(sc.account),
			RepositoryName:     aws.String(repo),
			ImageTagMutability: types.ImageTagMutability(want.Native),
		}
		if want.Native == nativeImmutableExclude {
			for _, f := range want.MutablePatterns {
				in.ImageTagMutabilityExclusionFilters = append(in.ImageTagMutabilityExclusionFilters, types.ImageTagMutabilityExclusionFilter{
					Filter: aws.String(f), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard,
				})
			}
		}
		_, err := sc.api.PutImageTagMutability(ctx, in)
		err = apiError(err, false)
		rec := providers.WriteRecord{
			Call:   opPutMutability,
			Target: repo,
			Before: c.From.Native + filterSuffix(c.From.MutablePatterns),
			After:  want.Native + filterSuffix(want.MutablePatterns),
		}
		if err != nil {
			rec.Err = err.Error()
		}
		if o != nil {
			o.Write(c, rec)
		}
		if err != nil {
			return res, fmt.Errorf("apply %s in %s: put image tag mutability: %w", repo, sc.name, err)
		}
		res.Writes = 1
		if o != nil {
			o.Progress(c, 1, 1)
		}
	}
	r, err := describeOne(ctx, sc, repo)
	if err != nil {
		return res, fmt.Errorf("apply %s in %s: %w: %w", repo, sc.name, providers.ErrReadBack, err)
	}
	res.After = immutability(r.ImageTagMutability, r.ImageTagMutabilityExclusionFilters)
	res.Verified = sameSetting(res.After, want)
	if !res.Verified {
		p.log.Warn("read-back differs from the applied setting", "scope", sc.name, "repository", repo,
			"want", want.Native+filterSuffix(want.MutablePatterns), "got", res.After.Native+filterSuffix(res.After.MutablePatterns))
	}
	return res, nil
}

// sameSetting compares native mode and the exclusion filter set (order
// does not matter to ECR).
func sameSetting(got, want providers.Immutability) bool {
	if got.Native != want.Native {
		return false
	}
	return sameSet(got.MutablePatterns, want.MutablePatterns) && sameSet(got.ImmutablePatterns, want.ImmutablePatterns)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
