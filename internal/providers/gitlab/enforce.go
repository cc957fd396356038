package gitlab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/immutag/immutag/internal/providers"
)

// target names the fix target of a change: the project's tag rules.
const target = "project-tag-rules"

// readBackAttempts and readBackWait bound the wait for a created rule to
// become readable (GitLab's Terraform provider polls the same way).
const (
	readBackAttempts = 5
	readBackWait     = 2 * time.Second
)

// ErrCannotExpress is wrapped when GitLab's rules cannot express the policy:
// an allowed pattern RE2 cannot exclude, a pattern over 100 characters, or
// no room left under the five-rule limit.
var ErrCannotExpress = errors.New("gitlab cannot express the policy")

// desired is the rule set a fix needs for allowed: the patterns and the
// immutability they give.
func desired(allowed []string) (pats []string, to providers.Immutability, err error) {
	var bad []string
	for _, a := range allowed {
		if !expressible(a) {
			bad = append(bad, a)
		}
	}
	if len(bad) > 0 {
		return nil, to, fmt.Errorf("%w: GitLab tag rules are RE2 patterns without negative lookahead, so only literal tags and prefix* patterns can be kept mutable, not %s",
			ErrCannotExpress, strings.Join(quoteAll(bad), ", "))
	}
	pats, err = rulePatterns(allowed)
	if err != nil {
		return nil, to, fmt.Errorf("%w: %v", ErrCannotExpress, err)
	}
	if len(pats) == 0 {
		return nil, to, fmt.Errorf("%w: policy.mutable_tags_allowed allows every tag (\"*\"), so there is nothing an immutable rule may cover", ErrCannotExpress)
	}
	to = evaluate(immutableRules(pats))
	return pats, to, nil
}

func immutableRules(pats []string) []rule {
	out := make([]rule, len(pats))
	for i, p := range pats {
		out[i] = rule{Pattern: p, Immutable: true}
	}
	return out
}

// missing returns the desired patterns not yet present as immutable rules.
func missing(rules []rule, pats []string) []string {
	var out []string
	for _, p := range pats {
		if !slices.ContainsFunc(rules, func(r rule) bool { return r.Immutable && r.Pattern == p }) {
			out = append(out, p)
		}
	}
	return out
}

func (p *Provider) lock(project string) *sync.Mutex {
	m, _ := p.locks.LoadOrStore(project, &sync.Mutex{})
	return m.(*sync.Mutex)
}

// accepted reports whether the user accepted that allowed tags GitLab
// cannot keep mutable become immutable too.
func accepted(pol providers.FixPolicy) bool { return pol.AcceptImmutableAllowed }

// keepable are the allowed patterns a rule set can keep mutable, each on
// its own (a literal tag or prefix*, short enough for one rule).
func keepable(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		if !expressible(a) || a == "*" {
			continue
		}
		if _, err := rulePatterns([]string{a}); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// Plan reads the project's rules and says which immutable rules Apply
// would create. Where GitLab cannot keep an allowed tag mutable (RE2 has no
// lookahead: only literal tags and prefix* can be excluded, in at most 100
// characters), the change is held back with the reason unless the user
// accepts that those tags become immutable too; where the five-rule limit
// leaves no room, it is held back with that reason.
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	allowed := pol.AllowedTags()
	c := providers.Change{Provider: p.name, Kind: Kind, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability, Target: target}
	if r.Immutability.Satisfies(allowed) {
		c.Noop, c.To, c.Action, c.Target = true, r.Immutability, "none: the repository already satisfies the policy", ""
		return c, providers.SetRef(&c, Ref{Project: r.Scope, Allowed: allowed})
	}
	keep := allowed
	pats, to, err := desired(keep)
	var lost []string
	if err != nil {
		keep = keepable(allowed)
		for _, a := range allowed {
			if !slices.Contains(keep, a) {
				lost = append(lost, a)
			}
		}
		if pats, to, err = desired(keep); err != nil {
			keep, lost = nil, allowed
			if pats, to, err = desired(nil); err != nil {
				return c, err
			}
		}
	}
	cl, err := p.api()
	if err != nil {
		return c, err
	}
	rules, err := p.rules(ctx, cl, r.Scope)
	if err != nil {
		return c, fmt.Errorf("project %s: read protection tag rules: %w", r.Scope, err)
	}
	add := missing(rules, pats)
	c.To = to
	c.Writes = int64(len(add))
	c.Action = fmt.Sprintf("GraphQL createContainerProtectionTagRule(projectPath: %q, tagNamePattern: %s, minimumAccessLevelForPush: null, minimumAccessLevelForDelete: null): "+
		"immutable rule(s) covering every repository of the project, present and future; needs GitLab Ultimate and the Owner role; "+
		"pushes see it within the registry token lifetime (up to 15 minutes on GitLab.com)",
		r.Scope, strings.Join(quoteAll(add), ", "))
	if err := providers.SetRef(&c, Ref{Project: r.Scope, Allowed: keep}); err != nil {
		return c, err
	}
	if n := len(rules) + len(add); n > maxRulesPerProject {
		c.HeldBack = fmt.Sprintf("project %s has %d protection tag rules and the fix needs %d more; GitLab allows %d per project (immutable and protection rules together): remove or merge rules first",
			r.Scope, len(rules), len(add), maxRulesPerProject)
		return c, nil
	}
	if len(lost) > 0 {
		why := fmt.Sprintf("GitLab tag rules cannot keep %s mutable (RE2 patterns without lookahead can exclude only literal tags and prefix* patterns, in at most %d characters)",
			strings.Join(quoteAll(lost), ", "), maxPatternLen)
		if accepted(pol) {
			c.Action += "; " + why + ": they become immutable too (accepted with --accept-immutable-allowed-tags)"
		} else {
			c.HeldBack = why + ": the fix would make them immutable too; pass --accept-immutable-allowed-tags to accept that"
		}
	}
	return c, nil
}

// Ref is the target of a GitLab change (providers.Change.Ref): the project
// whose protection tag rules cover the repository, and the allowed tags
// the immutable rules leave out. Apply derives the rule patterns from
// Allowed again (desired), so what it writes is what Plan printed.
type Ref struct {
	Project string   `json:"project"`
	Allowed []string `json:"allowed,omitempty"`
}

// Apply re-reads the project's rules and creates the missing immutable
// rules, once per project however many repositories share it, then reads
// the rules back until the new ones are visible.
func (p *Provider) Apply(ctx context.Context, ch providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: ch}
	f, err := providers.RefOf[Ref](ch, Kind)
	if err != nil {
		return res, err
	}
	c, err := p.api()
	if err != nil {
		return res, err
	}
	mu := p.lock(f.Project)
	mu.Lock()
	defer mu.Unlock()
	var werr error
	if !ch.Noop {
		if werr, err = p.write(ctx, c, ch, f, &res, o); err != nil {
			return res, err
		}
	}
	var after []rule
	for attempt := 0; ; attempt++ {
		after, err = p.rules(ctx, c, f.Project)
		if err != nil {
			if werr != nil {
				return res, errors.Join(werr, fmt.Errorf("project %s: read back protection tag rules: %w", f.Project, err))
			}
			// Written (or nothing to write): applied but unverified, like
			// every other kind, not failed.
			return res, fmt.Errorf("project %s: protection tag rules: %w: %w", f.Project, providers.ErrReadBack, err)
		}
		res.After = evaluate(after)
		res.Verified = res.After.Satisfies(f.Allowed)
		if res.Verified || werr != nil || res.Writes == 0 || attempt+1 >= readBackAttempts {
			break
		}
		if err := sleep(ctx, readBackWait); err != nil {
			return res, err
		}
	}
	if werr != nil && !res.Verified {
		if errors.Is(werr, providers.ErrUnsupported) || errors.Is(werr, providers.ErrDenied) {
			res.After = providers.Immutability{Mode: providers.ModeUnsupported, Native: res.After.Native, Note: werr.Error()}
		}
		return res, werr
	}
	if res.Verified {
		res.After.Note = joinNote(res.After.Note, "GitLab applies rule changes to pushes within the registry token lifetime (up to 15 minutes on GitLab.com)")
	}
	return res, nil
}

// write creates the immutable rules the project still lacks. err stops
// Apply before any read-back (the rules could not be read, or the fix does
// not fit); werr is a failed write, after which the rules are read back.
func (p *Provider) write(ctx context.Context, c *gl.Client, ch providers.Change, f Ref, res *providers.Result, o providers.Observer) (werr, err error) {
	pats, _, err := desired(f.Allowed)
	if err != nil {
		return nil, err
	}
	rules, err := p.rules(ctx, c, f.Project)
	if err != nil {
		return nil, fmt.Errorf("project %s: read protection tag rules before writing: %w", f.Project, err)
	}
	if evaluate(rules).Satisfies(f.Allowed) {
		return nil, nil
	}
	add := missing(rules, pats)
	if len(rules)+len(add) > maxRulesPerProject {
		return nil, fmt.Errorf("%w: project %s has %d protection tag rules and the fix needs %d more; GitLab allows %d",
			ErrCannotExpress, f.Project, len(rules), len(add), maxRulesPerProject)
	}
	for _, pat := range add {
		res.Writes++
		if werr = p.create(ctx, c, ch, f.Project, pat, o); werr != nil {
			return werr, nil
		}
	}
	return nil, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// create writes one immutable rule. GitLab answers refusals (tier, role,
// limit, invalid pattern) with HTTP 200 and the reason in "errors".
func (p *Provider) create(ctx context.Context, c *gl.Client, ch providers.Change, project, pattern string, o providers.Observer) error {
	rec := providers.WriteRecord{Call: "GraphQL createContainerProtectionTagRule", Target: project,
		After: "immutable rule " + quote(pattern)}
	var resp struct {
		Data struct {
			Create *struct {
				Rule   *rule    `json:"containerProtectionTagRule"`
				Errors []string `json:"errors"`
			} `json:"createContainerProtectionTagRule"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	input := map[string]any{
		"projectPath":                 project,
		"tagNamePattern":              pattern,
		"minimumAccessLevelForPush":   nil,
		"minimumAccessLevelForDelete": nil,
	}
	err := p.graphql(ctx, c, createRuleMutation, map[string]any{"input": input}, &resp)
	if err == nil {
		err = gqlErrors(resp.Errors)
	}
	if err == nil && resp.Data.Create == nil {
		err = &providers.APIError{Class: providers.ErrOther, Status: 200, Code: "graphql", Message: "createContainerProtectionTagRule returned nothing"}
	}
	if err == nil && len(resp.Data.Create.Errors) > 0 {
		kind := classify(resp.Data.Create.Errors)
		msg := strings.Join(resp.Data.Create.Errors, "; ")
		if kind == providers.ErrDenied || kind == providers.ErrUnsupported {
			kind = providers.ErrUnsupported
			msg += " (immutable tag rules need GitLab Ultimate 18.2 or later and the Owner role on the project)"
		}
		err = &providers.APIError{Class: kind, Status: 200, Code: "graphql", Message: msg}
	}
	if err != nil {
		err = fmt.Errorf("project %s: create immutable tag rule %s: %w", project, quote(pattern), err)
		rec.Err = err.Error()
	}
	if o != nil {
		o.Write(ch, rec)
	}
	p.log.Info("gitlab immutable tag rule write", "project", project, "pattern", pattern, "ok", err == nil)
	return err
}
