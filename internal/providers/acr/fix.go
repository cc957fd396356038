package acr

import (
	"context"
	"errors"
	"fmt"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"golang.org/x/sync/errgroup"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
)

// SKU write limits, writes per minute (Microsoft's published minimums).
var skuWritesPerMinute = map[string]float64{
	"basic":    100,
	"classic":  100,
	"standard": 500,
	"premium":  2000,
}

// sampleSize bounds UnlockedSample.
const sampleSize = 10

// maxFailures stops a lock loop that keeps failing (other than 401/403,
// which stop it at once).
const maxFailures = 25

// writeRate picks the lock loop's rate. An explicit rate.requests_per_second
// wins (users keep headroom for their own pushes, which share the budget);
// otherwise the SKU's write limit, and Basic's when the SKU is unknown.
func writeRate(r config.Rate, sku string) (perSecond float64, source string) {
	if r.RequestsPerSecond > 0 {
		return r.RequestsPerSecond, fmt.Sprintf("%g writes/s (rate.requests_per_second)", r.RequestsPerSecond)
	}
	if n, ok := skuWritesPerMinute[strings.ToLower(sku)]; ok {
		return n / 60, fmt.Sprintf("%g writes/min (%s SKU write limit)", n, sku)
	}
	return 100.0 / 60, "100 writes/min (Basic SKU write limit; SKU unknown)"
}

// writeLimiter paces every write attempt, retries included, so the loop
// stays under the registry's write budget.
type writeLimiter struct{ lim *httpapi.Limiter }

func (w *writeLimiter) Do(req *policy.Request) (*http.Response, error) {
	switch req.Raw().Method {
	case http.MethodPatch, http.MethodPut, http.MethodDelete:
		if err := w.lim.Wait(req.Raw().Context()); err != nil {
			return nil, fmt.Errorf("wait for write budget: %w", err)
		}
	}
	return req.Next()
}

// coverage is what one pass over a repository's tags found. It holds
// counts and a bounded sample, never the tag list.
type coverage struct {
	total, locked int64
	// allowed counts unlocked tags policy.mutable_tags_allowed lets stay
	// mutable; matched are the patterns that allowed them.
	allowed int64
	matched []string
	sample  []string
	// unlockedBefore counts unlocked tags created before the cutoff given
	// to coverageOf (tags present when a lock loop started).
	unlockedBefore int64
}

func (c coverage) immutability() providers.Immutability {
	im := providers.Immutability{
		Native:         fmt.Sprintf("tags locked %d/%d", c.locked, c.total),
		TagsTotal:      c.total,
		TagsLocked:     c.locked,
		UnlockedSample: c.sample,
		Note:           Note,
	}
	if c.allowed > 0 {
		im.Native += fmt.Sprintf(" (%d unlocked as policy.mutable_tags_allowed allows)", c.allowed)
	}
	switch {
	case c.locked == c.total:
		im.Mode = providers.ModeImmutable
	case c.locked+c.allowed == c.total:
		// Every tag the policy does not allow to move is locked.
		im.Mode = providers.ModePartial
		im.MutablePatterns = slices.Clone(c.matched)
	case c.locked == 0:
		im.Mode = providers.ModeMutable
		im.MutablePatterns = []string{"*"}
	default:
		im.Mode = providers.ModePartial
		im.MutablePatterns = []string{"*"}
	}
	return im
}

func locked(t *azcontainerregistry.TagAttributes) bool {
	return t.ChangeableAttributes != nil && t.ChangeableAttributes.CanWrite != nil && !*t.ChangeableAttributes.CanWrite
}

// eachTag pages through a repository's tags (changeableAttributes come with
// the listing; no call per tag) and calls fn for each.
func (p *Provider) eachTag(ctx context.Context, r *registry, repo string, fn func(*azcontainerregistry.TagAttributes) error) error {
	pager := r.client.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: &p.pageSize})
	links := linkGuard{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("repository %s: list tags: %w", repo, apiErr(err))
		}
		if err := links.check(page.Link); err != nil {
			return fmt.Errorf("repository %s: list tags: %w", repo, err)
		}
		// A 200 that is not a tag listing (an error object from a proxy)
		// decodes to no tags, which would read as "every tag locked".
		if page.Repository == nil && page.Tags == nil {
			return fmt.Errorf("repository %s: list tags: %w: the answer has neither \"imageName\" nor \"tags\"", repo, httpapi.ErrMissingField)
		}
		for i, t := range page.Tags {
			if t == nil || t.Name == nil || *t.Name == "" {
				return fmt.Errorf("repository %s: list tags: entry %d has no tag name", repo, i)
			}
			if err := fn(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// coverage counts a repository's tags; cutoff, when set, also counts
// unlocked tags created before it.
func (p *Provider) coverage(ctx context.Context, r *registry, repo string, cutoff time.Time) (coverage, error) {
	var c coverage
	err := p.eachTag(ctx, r, repo, func(t *azcontainerregistry.TagAttributes) error {
		c.total++
		if locked(t) {
			c.locked++
			return nil
		}
		if pat, ok := p.allowedBy(*t.Name); ok {
			c.allowed++
			if !slices.Contains(c.matched, pat) {
				c.matched = append(c.matched, pat)
			}
			return nil
		}
		if len(c.sample) < sampleSize {
			c.sample = append(c.sample, *t.Name)
		}
		if !cutoff.IsZero() && (t.CreatedOn == nil || t.CreatedOn.Before(cutoff)) {
			c.unlockedBefore++
		}
		return nil
	})
	return c, err
}

// allowedBy returns the policy.mutable_tags_allowed pattern tag matches.
// The adapter's own copy of the policy (providers.Options) decides, so a
// plan read back from disk is applied with the same exclusions.
func (p *Provider) allowedBy(tag string) (string, bool) {
	for _, a := range p.opts.MutableTagsAllowed {
		if providers.TagMatches(a, tag) {
			return strings.TrimSpace(a), true
		}
	}
	return "", false
}

// Ref is the target of an ACR change (providers.Change.Ref): one
// repository of one registry. Which tags stay unlocked follows the
// adapter's own copy of policy.mutable_tags_allowed (allowedBy).
type Ref struct {
	// Registry is the login server (myreg.azurecr.io).
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
}

// Plan re-reads the repository's tags and says how many would be locked
// and how long that takes at the write rate. It makes no write. Tags that
// policy.mutable_tags_allowed allows stay unlocked (a pipeline re-pushes
// latest); the audit counts them as allowed.
func (p *Provider) Plan(ctx context.Context, repo providers.Repository, _ providers.FixPolicy) (providers.Change, error) {
	r, err := p.knownRegistry(repo.Handle, repo.Scope)
	if err != nil {
		return providers.Change{}, err
	}
	cov, err := p.coverage(ctx, r, repo.Name, time.Time{})
	if err != nil {
		return providers.Change{}, fmt.Errorf("registry %s: plan: %w", r.login, err)
	}
	n := cov.total - cov.locked - cov.allowed
	to := coverage{total: cov.total, locked: cov.total - cov.allowed, allowed: cov.allowed, matched: cov.matched}
	c := providers.Change{
		Provider:   p.cfg.Name,
		Kind:       providers.KindACR,
		Scope:      r.login,
		Repository: repo.Name,
		URI:        r.login + "/" + repo.Name,
		From:       cov.immutability(),
		To:         to.immutability(),
		Writes:     n,
		Noop:       n == 0,
	}
	if err := providers.SetRef(&c, Ref{Registry: r.login, Repository: repo.Name}); err != nil {
		return c, err
	}
	switch {
	case n == 0 && cov.allowed > 0:
		c.Action = fmt.Sprintf("none: all %d tags are locked but the %d policy.mutable_tags_allowed allows", cov.total-cov.allowed, cov.allowed)
	case n == 0:
		c.Action = fmt.Sprintf("none: all %d tags are locked", cov.total)
	default:
		perSecond, source := r.rate()
		c.Action = fmt.Sprintf("lock %d tags (writeEnabled=false, deleteEnabled=false) with UpdateTagProperties; %s at %s",
			n, estimate(n, perSecond), source)
		if cov.allowed > 0 {
			c.Action += fmt.Sprintf("; %d tags matching %s stay unlocked (policy.mutable_tags_allowed)", cov.allowed, strings.Join(cov.matched, ", "))
		}
	}
	return c, nil
}

func estimate(n int64, perSecond float64) string {
	d := time.Duration(float64(n) / perSecond * float64(time.Second))
	if d < time.Second {
		return "under 1s"
	}
	return "about " + d.Round(time.Second).String()
}

type lockJob struct {
	tag       string
	canDelete bool
}

// loopStats are the lock loop's counters.
type loopStats struct {
	done, locked, failed, vanished atomic.Int64
	firstErr                       atomic.Pointer[error]
}

// Apply is the per-tag lock loop: it re-lists the repository and PATCHes
// writeEnabled=false, deleteEnabled=false on every tag that is still
// unlocked, with bounded concurrency under the write limiter. Locked tags
// are never touched and the repository-level lock is never used (it would
// block all pushes). Each call that may have reached the registry is
// journaled; an interrupted run is resumed by running it again. Afterwards
// the tags are listed again, and Verified is set when no tag that existed
// when the loop started is still unlocked.
func (p *Provider) Apply(ctx context.Context, c providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: c}
	ref, err := providers.RefOf[Ref](c, providers.KindACR)
	if err != nil {
		return res, err
	}
	r, err := p.registryAt(ref.Registry)
	if err != nil {
		return res, err
	}
	c.Repository = ref.Repository
	obs := &syncObserver{o: o}
	start := p.now()
	var st loopStats
	var loopErr error
	if !c.Noop {
		loopErr = p.lockLoop(ctx, r, c, obs, &st)
	}
	res.Writes = st.locked.Load()
	if ctx.Err() != nil {
		return res, fmt.Errorf("registry %s: repository %s: lock loop interrupted after %d locks (run again to resume): %w",
			r.login, c.Repository, res.Writes, ctx.Err())
	}
	cov, verr := p.coverage(ctx, r, c.Repository, start)
	if verr != nil {
		if loopErr == nil && st.failed.Load() == 0 {
			return res, fmt.Errorf("registry %s: verify: %w: %w", r.login, providers.ErrReadBack, verr)
		}
		return res, errors.Join(loopErr, fmt.Errorf("registry %s: verify: %w", r.login, verr))
	}
	res.After = cov.immutability()
	if newer := (cov.total - cov.locked) - cov.unlockedBefore; newer > 0 {
		res.After.Note = fmt.Sprintf("%d tags pushed during the run are still unlocked. %s", newer, Note)
	}
	res.Verified = loopErr == nil && st.failed.Load() == 0 && cov.unlockedBefore == 0
	if loopErr != nil {
		return res, loopErr
	}
	if f := st.failed.Load(); f > 0 {
		first := ""
		if e := st.firstErr.Load(); e != nil {
			first = ": first error: " + (*e).Error()
		}
		return res, fmt.Errorf("registry %s: repository %s: %d tags could not be locked%s", r.login, c.Repository, f, first)
	}
	return res, nil
}

func (p *Provider) lockLoop(ctx context.Context, r *registry, c providers.Change, o *syncObserver, st *loopStats) error {
	jobs := make(chan lockJob)
	g, gctx := errgroup.WithContext(ctx)
	var seen atomic.Int64
	g.Go(func() error {
		defer close(jobs)
		return p.eachTag(gctx, r, c.Repository, func(t *azcontainerregistry.TagAttributes) error {
			if locked(t) {
				return nil
			}
			if _, ok := p.allowedBy(*t.Name); ok {
				return nil
			}
			seen.Add(1)
			j := lockJob{tag: *t.Name, canDelete: t.ChangeableAttributes == nil || t.ChangeableAttributes.CanDelete == nil || *t.ChangeableAttributes.CanDelete}
			select {
			case jobs <- j:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for range p.maxConcurrent {
		g.Go(func() error {
			for j := range jobs {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if err := p.lockTag(gctx, r, c, o, j, st); err != nil {
					return err
				}
				done := st.done.Add(1)
				o.Progress(c, done, max(c.Writes, seen.Load(), done))
			}
			return nil
		})
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// lockTag locks one tag. It returns an error only when the whole loop must
// stop (access denied, too many failures); other failures are counted.
func (p *Provider) lockTag(ctx context.Context, r *registry, c providers.Change, o *syncObserver, j lockJob, st *loopStats) error {
	var sent atomic.Bool
	cctx := withSentFlag(ctx, &sent)
	props := &azcontainerregistry.ClientUpdateTagPropertiesOptions{Value: &azcontainerregistry.TagWriteableProperties{
		CanWrite: to.Ptr(false), CanDelete: to.Ptr(false),
	}}
	var resp azcontainerregistry.ClientUpdateTagPropertiesResponse
	var err error
	for attempt := 0; ; attempt++ {
		resp, err = r.client.UpdateTagProperties(cctx, c.Repository, j.tag, props)
		ae := asAPIError(err)
		if ae == nil || ae.Class != providers.ErrThrottled || attempt >= p.throttleWaits {
			break
		}
		// azcore already retried with Retry-After; wait once more as the
		// registry asks before giving up on this tag.
		wait := max(ae.RetryAfter, time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		case <-t.C:
			continue
		}
		break
	}
	rec := providers.WriteRecord{
		Call:   "UpdateTagProperties",
		Target: j.tag,
		Before: fmt.Sprintf("writeEnabled=true,deleteEnabled=%t", j.canDelete),
	}
	if err == nil {
		var a *azcontainerregistry.TagWriteableProperties
		if resp.Tag != nil {
			a = resp.Tag.ChangeableAttributes
		}
		if a == nil || a.CanWrite == nil || *a.CanWrite {
			err = fmt.Errorf("tag %s: registry answered without writeEnabled=false", j.tag)
		} else {
			rec.After = fmt.Sprintf("writeEnabled=false,deleteEnabled=%t", a.CanDelete == nil || *a.CanDelete)
			o.Write(c, rec)
			st.locked.Add(1)
			return nil
		}
	}
	// A call that never reached the transport changed nothing: no journal
	// entry. One that did but failed is journaled with its error, since a
	// cancelled request may still have been applied.
	if sent.Load() {
		rec.Err = apiErr(err).Error()
		if isContextErr(err) {
			rec.Err = "outcome unknown: " + rec.Err
		}
		o.Write(c, rec)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ae := asAPIError(err)
	switch {
	case ae != nil && ae.Class == providers.ErrNotFound:
		st.vanished.Add(1) // deleted since the listing: nothing to lock
		return nil
	case ae != nil && ae.Class == providers.ErrDenied:
		return fmt.Errorf("registry %s: repository %s: lock tag %s: %w", r.login, c.Repository, j.tag, ae)
	}
	wrapped := fmt.Errorf("lock tag %s: %w", j.tag, apiErr(err))
	st.firstErr.CompareAndSwap(nil, &wrapped)
	if st.failed.Add(1) >= maxFailures {
		return fmt.Errorf("registry %s: repository %s: stopping after %d failed locks: %w", r.login, c.Repository, maxFailures, wrapped)
	}
	return nil
}

// syncObserver serialises Progress calls into the caller's Observer, which
// the workers share. Write goes straight through: providers.Observer allows
// concurrent writes, and serialising them here would queue every worker
// behind one journal fsync at a time.
type syncObserver struct {
	mu sync.Mutex
	o  providers.Observer
}

func (s *syncObserver) Write(c providers.Change, w providers.WriteRecord) {
	if s.o == nil {
		return
	}
	s.o.Write(c, w)
}

func (s *syncObserver) Progress(c providers.Change, done, total int64) {
	if s.o == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Progress(c, done, total)
}
