package acr

import (
	"context"
	"fmt"

	"github.com/immutag/immutag/internal/providers"
)

// LockTag locks one tag right after it was pushed (the serve webhook), so a
// new tag is mutable for about a second instead of until the next sweep. It
// goes through the same write limiter and journaling as the lock loop, never
// unlocks, and reads the tag back: a tag that is already locked needs no
// write and is verified.
func (p *Provider) LockTag(ctx context.Context, registry, repository, tag string, o providers.Observer) (providers.Result, error) {
	r, err := p.knownRegistry(nil, registry)
	if err != nil {
		return providers.Result{}, err
	}
	c := providers.Change{
		Provider: p.cfg.Name, Kind: providers.KindACR, Scope: r.login, Repository: repository,
		URI: r.login + "/" + repository, Target: "tag " + tag,
		To:     providers.Immutability{Mode: providers.ModeImmutable, Native: "tag " + tag + " locked"},
		Action: "lock tag " + tag + " (writeEnabled=false, deleteEnabled=false)", Writes: 1,
	}
	res := providers.Result{Change: c}
	if pat, ok := p.allowedBy(tag); ok {
		// The policy lets this tag move; locking it would break the
		// pipeline that re-pushes it.
		c.To = providers.Immutability{Mode: providers.ModePartial, Native: "tag " + tag + " unlocked", MutablePatterns: []string{pat}}
		return providers.Result{Change: c, Verified: true, After: c.To}, nil
	}
	before, err := r.client.GetTagProperties(ctx, repository, tag, nil)
	if err != nil {
		return res, fmt.Errorf("registry %s: repository %s: read tag %s: %w", r.login, repository, tag, apiErr(err))
	}
	if before.Tag != nil && locked(before.Tag) {
		res.Verified = true
		res.After = c.To
		return res, nil
	}
	canDelete := true
	if before.Tag != nil && before.Tag.ChangeableAttributes != nil && before.Tag.ChangeableAttributes.CanDelete != nil {
		canDelete = *before.Tag.ChangeableAttributes.CanDelete
	}
	var st loopStats
	obs := &syncObserver{o: o}
	if err := p.lockTag(ctx, r, c, obs, lockJob{tag: tag, canDelete: canDelete}, &st); err != nil {
		return res, err
	}
	res.Writes = st.locked.Load()
	if e := st.firstErr.Load(); e != nil {
		return res, fmt.Errorf("registry %s: repository %s: %w", r.login, repository, *e)
	}
	after, err := r.client.GetTagProperties(ctx, repository, tag, nil)
	if err != nil {
		return res, fmt.Errorf("registry %s: repository %s: verify tag %s: %w", r.login, repository, tag, apiErr(err))
	}
	res.Verified = after.Tag != nil && locked(after.Tag)
	if res.Verified {
		res.After = c.To
	} else {
		res.After = providers.Immutability{Mode: providers.ModeMutable, Native: "tag " + tag + " unlocked"}
	}
	return res, nil
}
