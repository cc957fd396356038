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
// whole rule list on each PATCH, so sending only ".*" drops narrower rules;
// that is acceptable because ".*" already covers every tag they covered:
// the result is strictly more immutable, never less.
type patchBody struct {
	ImmutableTags      bool     `json:"immutable_tags"`
	ImmutableTagsRules []string `json:"immutable_tags_rules"`
}

func target() providers.Immutability {
	t := true
	s := settings{Enabled: &t, Rules: []string{universalRule}}
	return providers.Immutability{Mode: providers.ModeImmutable, Native: native(s), ImmutablePatterns: []string{universalRule}}
}

func (p *Provider) own(r providers.Repository) (handle, error) {
	if r.Provider != p.name || r.Kind != providers.KindDockerHub {
		return handle{}, fmt.Errorf("repository %s/%s belongs to provider %q (%s), not %q", r.Scope, r.Name, r.Provider, r.Kind, p.name)
	}
	if h, ok := r.Handle.(handle); ok {
		return h, nil
	}
	return handle{namespace: r.Scope, name: r.Name}, nil
}

// Plan says whether the repository needs immutable tags enabled with the
// universal rule. Hub cannot keep some tags mutable while making all others
// immutable (rules only name immutable tags, and RE2 has no negative
// look-ahead), so the fix is always ".*"; a partial repository is left
// alone only when the policy allows every tag to stay mutable. A repository
// whose setting was not read is read again here (no write).
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	h, err := p.own(r)
	if err != nil {
		return providers.Change{}, err
	}
	from := r.Immutability
	if from.Mode == providers.ModeUnknown || from.Mode == "" {
		info, err := p.getRepository(ctx, h.namespace, h.name)
		if err != nil {
			return providers.Change{}, fmt.Errorf("plan: %w", err)
		}
		from = classify(info.Settings)
		if from.Mode == providers.ModeUnknown {
			return providers.Change{}, fmt.Errorf("plan repository %s/%s: %s", h.namespace, h.name, from.Error)
		}
	}
	c := providers.Change{
		Provider: p.name, Kind: providers.KindDockerHub, Scope: h.namespace, Repository: h.name,
		URI: p.uri(h.namespace, h.name), From: from, Handle: h,
	}
	if from.Mode == providers.ModeImmutable || (from.Mode == providers.ModePartial && allowed(from.MutablePatterns, pol.MutableTagsAllowed)) {
		c.Noop, c.To, c.Action = true, from, "none: already compliant"
		return c, nil
	}
	c.To = target()
	c.Writes = 1
	c.Action = fmt.Sprintf(`PATCH %s/immutabletags {"immutable_tags": true, "immutable_tags_rules": [%q]}`, repoPath(h.namespace, h.name), universalRule)
	if len(from.ImmutablePatterns) > 0 && from.Mode == providers.ModePartial {
		c.Action += " (replaces rules " + strings.Join(from.ImmutablePatterns, " ") + ", which it covers)"
	}
	return c, nil
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

// Apply enables immutable tags with the universal rule, reports the write
// to o and reads the setting back. It reads the current setting first so
// re-applying a stale plan writes nothing when the repository is already
// immutable.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	h, ok := c.Handle.(handle)
	if !ok {
		h = handle{namespace: c.Scope, name: c.Repository}
	}
	res := providers.Result{Change: c}
	before, err := p.getRepository(ctx, h.namespace, h.name)
	if err != nil {
		return res, fmt.Errorf("apply: read before write: %w", err)
	}
	cur := classify(before.Settings)
	if c.Noop || cur.Mode == providers.ModeImmutable {
		res.After = cur
		res.Verified = cur.Mode == c.To.Mode || cur.Mode == providers.ModeImmutable
		p.progress(o, c)
		return res, nil
	}
	call := "PATCH " + repoPath(h.namespace, h.name) + "/immutabletags"
	rec := providers.WriteRecord{Call: call, Target: h.namespace + "/" + h.name, Before: cur.Native, After: c.To.Native}
	_, err = p.client.Do(ctx, httpapi.Request{
		Method: http.MethodPatch, Path: repoPath(h.namespace, h.name) + "/immutabletags",
		Body: patchBody{ImmutableTags: true, ImmutableTagsRules: []string{universalRule}},
		// Setting the same value twice has the same effect: safe to retry.
		Idempotent: true,
	})
	res.Writes = 1
	if err != nil {
		rec.Err = err.Error()
		if o != nil {
			o.Write(c, rec)
		}
		return res, fmt.Errorf("apply repository %s/%s: %w", h.namespace, h.name, err)
	}
	if o != nil {
		o.Write(c, rec)
	}
	after, err := p.getRepository(ctx, h.namespace, h.name)
	if err != nil {
		res.After = unknown(err)
		return res, fmt.Errorf("apply: %w: %w", providers.ErrReadBack, err)
	}
	res.After = classify(after.Settings)
	res.Verified = res.After.Mode == providers.ModeImmutable
	p.progress(o, c)
	return res, nil
}

func (p *Provider) progress(o providers.Observer, c providers.Change) {
	if o != nil {
		o.Progress(c, 1, 1)
	}
}
