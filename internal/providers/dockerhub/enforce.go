package dockerhub

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// universalRule is the rule that makes every tag immutable.
const universalRule = ".*"

// patchBody is update_repository_immutable_tags_request. Hub replaces the
// whole rule list on each PATCH, so sending only the fix rule drops the
// others; that is acceptable because the fix rule covers every tag but the
// allowed ones: the result never leaves more tags mutable than the policy.
type patchBody struct {
	ImmutableTags      bool     `json:"immutable_tags"`
	ImmutableTagsRules []string `json:"immutable_tags_rules"`
}

func (p *Provider) own(r providers.Repository) error {
	if r.Provider != p.name || r.Kind != providers.KindDockerHub {
		return fmt.Errorf("repository %s/%s belongs to provider %q (%s), not %q", r.Scope, r.Name, r.Provider, r.Kind, p.name)
	}
	return nil
}

// Plan says which rules make the repository satisfy the policy: ".*" when
// nothing may stay mutable, else one rule matching every tag except the
// allowed ones (complementRule). Allowed patterns a rule cannot leave out
// (a "*" inside a pattern) hold the repository back unless the user
// accepts that they become immutable too. A repository whose setting was
// not read is read again here (no write).
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	if err := p.own(r); err != nil {
		return providers.Change{}, err
	}
	ns, name := r.Scope, r.Name
	from := r.Immutability
	if from.Mode == providers.ModeUnknown || from.Mode == "" {
		info, err := p.getRepository(ctx, ns, name)
		if err != nil {
			return providers.Change{}, fmt.Errorf("plan: %w", err)
		}
		from = classify(info.Settings, pol.MutableTagsAllowed)
		if from.Mode == providers.ModeUnknown {
			return providers.Change{}, fmt.Errorf("plan repository %s/%s: %s", ns, name, from.Error)
		}
	}
	c := providers.Change{
		Provider: p.name, Kind: providers.KindDockerHub, Scope: ns, Repository: name,
		URI: p.uri(ns, name), From: from,
	}
	ok, not := splitAllowed(pol.MutableTagsAllowed)
	if satisfied(from, pol.MutableTagsAllowed) {
		c.Noop, c.To, c.Action = true, from, "none: already compliant"
		// A no-op is verified against the policy it was judged by.
		return c, providers.SetRef(&c, Ref{Namespace: ns, Repository: name, Allowed: pol.MutableTagsAllowed})
	}
	// Rules in force make some tags immutable now; an allowed pattern one of
	// them may match would be unlocked by the complement rule, and a fix
	// never unlocks a tag: those stay immutable.
	var frozen []string
	if from.Mode == providers.ModePartial {
		keep := ok[:0:0]
		for _, a := range ok {
			if anyMayMatch(from.ImmutablePatterns, a) {
				frozen = append(frozen, a)
			} else {
				keep = append(keep, a)
			}
		}
		ok = keep
	}
	if err := providers.SetRef(&c, Ref{Namespace: ns, Repository: name, Allowed: ok}); err != nil {
		return c, err
	}
	c.To = target(ok)
	c.Writes = 1
	c.Action = fmt.Sprintf(`PATCH %s/immutabletags {"immutable_tags": true, "immutable_tags_rules": [%q]}`, repoPath(ns, name), c.To.ImmutablePatterns[0])
	if len(ok) > 0 {
		c.Action += " (every tag immutable except " + strings.Join(ok, ", ") + ")"
	}
	if len(from.ImmutablePatterns) > 0 && from.Mode == providers.ModePartial {
		c.Action += " (replaces rules " + strings.Join(from.ImmutablePatterns, " ") + ", which it covers)"
	}
	if len(frozen) > 0 {
		c.Action += " (" + strings.Join(frozen, ", ") + " stay immutable: a rule in force may already protect them, and a fix never unlocks a tag)"
	}
	if len(not) > 0 && !pol.AcceptImmutableAllowed {
		c.HeldBack = fmt.Sprintf("Docker Hub rules cannot leave %s mutable (only tag names and name-prefix* patterns): the fix would make them immutable too; pass --accept-immutable-allowed-tags to accept that", strings.Join(not, ", "))
	}
	return c, nil
}

// target is the setting Plan aims for: ".*", or the complement of the
// expressible allowed patterns.
func target(ok []string) providers.Immutability {
	t := true
	if len(ok) == 0 {
		s := settings{Enabled: &t, Rules: []string{universalRule}}
		return providers.Immutability{Mode: providers.ModeImmutable, Native: native(s), ImmutablePatterns: []string{universalRule}}
	}
	rule := complementRule(ok)
	s := settings{Enabled: &t, Rules: []string{rule}}
	return providers.Immutability{Mode: providers.ModePartial, Native: native(s), ImmutablePatterns: []string{rule}, MutablePatterns: ok}
}

// satisfied reports whether im leaves mutable only what the policy allows.
func satisfied(im providers.Immutability, policy []string) bool {
	return im.Mode == providers.ModeImmutable || (im.Mode == providers.ModePartial && allowed(im.MutablePatterns, policy))
}

// allowed reports whether every pattern left mutable is allowed by policy
// (equality after trimming; never a guess).
func allowed(mutable, policy []string) bool {
	if len(mutable) == 0 {
		return false
	}
	for _, m := range mutable {
		ok := false
		for _, a := range policy {
			if strings.TrimSpace(a) == strings.TrimSpace(m) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Apply writes the planned rule, reports the write to o and reads the
// setting back. It reads the current setting first so re-applying a stale
// plan writes nothing when the repository already satisfies it. The rule
// is derived again from the Ref's allowed patterns, so nothing looser
// than planned is ever written.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	ref, err := providers.RefOf[Ref](c, providers.KindDockerHub)
	if err != nil {
		return res, err
	}
	ns, name, keep := ref.Namespace, ref.Repository, ref.Allowed
	ok, _ := splitAllowed(keep)
	want := target(ok)
	before, err := p.getRepository(ctx, ns, name)
	if err != nil {
		return res, fmt.Errorf("apply: read before write: %w", err)
	}
	cur := classify(before.Settings, keep)
	if c.Noop || satisfied(cur, keep) {
		res.After = cur
		res.Verified = satisfied(cur, keep)
		p.progress(o, c)
		return res, nil
	}
	call := "PATCH " + repoPath(ns, name) + "/immutabletags"
	rec := providers.WriteRecord{Call: call, Target: ns + "/" + name, Before: cur.Native, After: want.Native}
	_, err = p.client.Do(ctx, httpapi.Request{
		Method: http.MethodPatch, Path: repoPath(ns, name) + "/immutabletags",
		Body: patchBody{ImmutableTags: true, ImmutableTagsRules: want.ImmutablePatterns},
		// Setting the same value twice has the same effect: safe to retry.
		Idempotent: true,
	})
	res.Writes = 1
	if err != nil {
		rec.Err = err.Error()
		if o != nil {
			o.Write(c, rec)
		}
		return res, fmt.Errorf("apply repository %s/%s: %w", ns, name, err)
	}
	if o != nil {
		o.Write(c, rec)
	}
	after, err := p.getRepository(ctx, ns, name)
	if err != nil {
		res.After = unknown(err)
		return res, fmt.Errorf("apply: %w: %w", providers.ErrReadBack, err)
	}
	res.After = classify(after.Settings, keep)
	res.Verified = satisfied(res.After, keep)
	p.progress(o, c)
	return res, nil
}

func (p *Provider) progress(o providers.Observer, c providers.Change) {
	if o != nil {
		o.Progress(c, 1, 1)
	}
}
