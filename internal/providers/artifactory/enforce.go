package artifactory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/immutag/immutag/internal/providers"
)

// ErrPlanOnly is returned by Apply: Artifactory fixes are printed, never
// applied, because permission targets are an organisation's decision.
var ErrPlanOnly = errors.New("artifactory fixes are a plan only: apply the printed permission change in Artifactory")

// target names the fix target.
const fixTarget = "permission-targets"

// Ref is the target of an Artifactory change (providers.Change.Ref): an
// image of a Docker local repository. Fixes are never applied (see
// ErrPlanOnly); Apply of a no-op reads who can overwrite its tags back.
type Ref struct {
	Repository string `json:"repository"`
	Image      string `json:"image"`
}

func without(actions []string) []string {
	var out []string
	for _, a := range actions {
		switch strings.ToLower(a) {
		case "delete", "d", "manage", "m":
			continue
		}
		out = append(out, a)
	}
	return out
}

// Plan prints the exact permission change that would leave only
// administrators able to overwrite the image's tags. Nothing is applied.
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	c := providers.Change{Provider: p.name, Kind: Kind, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability}
	if err := providers.SetRef(&c, Ref{Repository: r.Scope, Image: r.Name}); err != nil {
		return c, err
	}
	if r.Mode == providers.ModeImmutable {
		c.Noop, c.To, c.Action = true, r.Immutability, "none: only administrators can overwrite tags"
		return c, nil
	}
	h, ok := r.Handle.(handle)
	if !ok {
		cl, err := p.client()
		if err != nil {
			return c, err
		}
		ts, err := p.permissions(ctx, cl)
		if err != nil {
			return c, fmt.Errorf("repository %s: %w", r.Scope, err)
		}
		h = handle{holders: p.holders(ctx, cl, ts, r.Scope, r.Name)}
	}
	if len(h.holders) == 0 {
		c.Noop, c.To, c.Action = true, evaluate(nil), "none: only administrators can overwrite tags"
		return c, nil
	}
	byTarget := map[string][]holder{}
	var order []string
	for _, x := range h.holders {
		if _, seen := byTarget[x.Target]; !seen {
			order = append(order, x.Target)
		}
		byTarget[x.Target] = append(byTarget[x.Target], x)
	}
	var parts []string
	for _, t := range order {
		var edits []string
		for _, x := range byTarget[t] {
			edits = append(edits, fmt.Sprintf("%s %s %s -> %s", x.Kind, x.Name, fmtActions(x.Actions), fmtActions(without(x.Actions))))
		}
		parts = append(parts, fmt.Sprintf("PUT %s/v2/security/permissions/%s with repo.actions changed: %s", apiPrefix, t, strings.Join(edits, "; ")))
	}
	c.Target = fixTarget
	c.Action = "plan only, not applied (permissions are an organisation's decision): " + strings.Join(parts, " | ") +
		"; this removes Delete/Overwrite (and Manage) from these principals on every repository and path the target covers"
	if allowed := pol.AllowedTags(); len(allowed) > 0 {
		var pats []string
		for _, a := range allowed {
			pats = append(pats, "**/"+a+"/**")
		}
		c.Action += fmt.Sprintf("; to keep %s overwritable, grant Delete/Overwrite in a separate permission target whose include-patterns are %s",
			strings.Join(allowed, ", "), strings.Join(pats, ", "))
	}
	c.To = evaluate(nil)
	c.Writes = 0
	c.HeldBack = "plan only: Artifactory has no tag-immutability setting, and who holds Delete/Overwrite is the organisation's decision; make the change above in Artifactory"
	return c, nil
}

func fmtActions(a []string) string {
	if len(a) == 0 {
		return "[] (remove the principal)"
	}
	return "[" + strings.Join(a, ",") + "]"
}

// Apply never writes: see ErrPlanOnly. Of a no-op it reads back who
// holds Delete/Overwrite on the image, like any Apply's read-back.
func (p *Provider) Apply(ctx context.Context, ch providers.Change, _ providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: ch, After: ch.From}
	ref, err := providers.RefOf[Ref](ch, Kind)
	if err != nil {
		return res, err
	}
	if !ch.Noop {
		return res, &providers.APIError{Class: providers.ErrUnsupported, Message: ErrPlanOnly.Error(), Err: ErrPlanOnly}
	}
	c, err := p.client()
	if err != nil {
		return res, err
	}
	ts, err := p.permissions(ctx, c)
	if err != nil {
		res.After = providers.Immutability{Mode: providers.ModeUnknown, Error: err.Error()}
		return res, fmt.Errorf("repository %s: %w: %w", ref.Repository, providers.ErrReadBack, err)
	}
	res.After = evaluate(p.holders(ctx, c, ts, ref.Repository, ref.Image))
	res.Verified = res.After.Mode == providers.ModeImmutable
	return res, nil
}
