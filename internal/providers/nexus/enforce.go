package nexus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// target names the fix target: the Nexus repository's deployment policy,
// shared by every image in it.
const target = "repository-write-policy"

// readOnly lists the fields of a repository GET that are not part of the
// update request (DockerHostedRepositoryApiRequest): the rest is sent back
// exactly as read.
var readOnly = []string{"url", "format", "type", "size"}

// keepLatest says whether the fix sets latestPolicy: only when the policy
// allows "latest" itself. Nexus can keep no other tag mutable.
func keepLatest(allowed []string) bool { return slices.Contains(allowed, "latest") }

// Ref is the target of a Nexus change (providers.Change.Ref): the Docker
// hosted repository whose deployment policy covers every image in it (the
// change's scope), and the tags that may stay mutable: ["latest"] when the
// fix sets latestPolicy.
type Ref struct {
	Repository string   `json:"repository"`
	Allowed    []string `json:"allowed,omitempty"`
}

func (p *Provider) lock(repo string) *sync.Mutex {
	m, _ := p.locks.LoadOrStore(repo, &sync.Mutex{})
	return m.(*sync.Mutex)
}

// Plan says what the PUT would change. Nexus can keep only "latest"
// mutable: with other allowed patterns the change is held back, with the
// reason, unless the user accepts that they become immutable too.
func (p *Provider) Plan(_ context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	allowed := pol.AllowedTags()
	c := providers.Change{Provider: p.name, Kind: Kind, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability}
	if r.Immutability.Satisfies(allowed) {
		c.Noop, c.To, c.Action = true, r.Immutability, "none: the repository already satisfies the policy"
		return c, providers.SetRef(&c, Ref{Repository: r.Scope, Allowed: allowed})
	}
	latest := keepLatest(allowed)
	ref := Ref{Repository: r.Scope}
	if latest {
		ref.Allowed = []string{"latest"}
	}
	if err := providers.SetRef(&c, ref); err != nil {
		return c, err
	}
	c.Target = target
	c.Writes = 1
	c.To = providers.Immutability{Mode: providers.ModeImmutable, Native: "writePolicy=ALLOW_ONCE, latestPolicy=false"}
	if latest {
		c.To = providers.Immutability{Mode: providers.ModePartial, Native: "writePolicy=ALLOW_ONCE, latestPolicy=true", MutablePatterns: []string{"latest"}}
	}
	c.Action = fmt.Sprintf("PUT %s with storage.writePolicy=ALLOW_ONCE, storage.latestPolicy=%t, every other field as read; covers every image of Nexus repository %s",
		settingsPath(r.Scope), latest, r.Scope)
	var lost []string
	for _, a := range allowed {
		if a != "latest" {
			lost = append(lost, a)
		}
	}
	if len(lost) > 0 {
		why := fmt.Sprintf("Nexus can keep only latest redeployable (latestPolicy), not %s", strings.Join(lost, ", "))
		if accepted(pol) {
			c.Action += "; " + why + ": they become immutable too (accepted with --accept-immutable-allowed-tags)"
		} else {
			c.HeldBack = why + ": the fix would make them immutable too; pass --accept-immutable-allowed-tags to accept that"
		}
	}
	return c, nil
}

// accepted reports whether the user accepted that allowed tags Nexus
// cannot keep mutable become immutable too.
func accepted(pol providers.FixPolicy) bool { return pol.AcceptImmutableAllowed }

// Apply re-reads the repository and, unless it already satisfies the
// policy, PUTs it back with the new deployment policy. The write policy
// is verified by reading it back; latestPolicy is verified when Nexus
// reports it, and the result says so when it does not.
func (p *Provider) Apply(ctx context.Context, ch providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: ch}
	ref, err := providers.RefOf[Ref](ch, Kind)
	if err != nil {
		return res, err
	}
	repo, allowed := ref.Repository, ref.Allowed
	latest := slices.Equal(allowed, []string{"latest"})
	c, err := p.client()
	if err != nil {
		return res, err
	}
	mu := p.lock(repo)
	mu.Lock()
	defer mu.Unlock()
	var m map[string]any
	if !ch.Noop {
		if m, err = p.settings(ctx, c, repo); err != nil {
			return res, fmt.Errorf("repository %s: read settings before writing: %w", repo, err)
		}
	}
	before := evaluate(m)
	var werr error
	switch {
	case ch.Noop:
	case before.Satisfies(allowed):
		// Already as wanted (an earlier change of the same repository),
		// or stricter: latestPolicy is never switched on where latest is
		// immutable, since a fix never loosens.
	case strings.EqualFold(nativePolicy(m), policyDeny):
		// Read-only is stricter than ALLOW_ONCE: never loosen it.
	default:
		res.Writes = 1
		werr = p.put(ctx, c, ch, repo, m, before, latest, o)
	}
	after, err := p.settings(ctx, c, repo)
	if err != nil {
		if werr != nil {
			return res, errors.Join(werr, fmt.Errorf("repository %s: read back settings: %w", repo, err))
		}
		// The write went through (or none was needed): applied but
		// unverified, like every other kind, not failed.
		return res, fmt.Errorf("repository %s: settings: %w: %w", repo, providers.ErrReadBack, err)
	}
	res.After = evaluate(after)
	st, _ := after["storage"].(map[string]any)
	lp, hasLP := st["latestPolicy"].(bool)
	policyOK := strings.EqualFold(nativePolicy(after), policyAllowOnce) || strings.EqualFold(nativePolicy(after), policyDeny)
	switch {
	case res.Writes == 0:
		res.Verified = res.After.Satisfies(allowed)
	case !policyOK:
		res.Verified = false
	case strings.EqualFold(nativePolicy(after), policyDeny):
		res.Verified = true
	case !hasLP:
		// What can be verified is: redeploy is off. latestPolicy is
		// write-only on this Nexus.
		res.Verified = true
		res.After = ch.To
		res.After.Note = fmt.Sprintf("writePolicy ALLOW_ONCE verified; latestPolicy=%t was sent but this Nexus does not report it, so it cannot be verified", latest)
	case lp == latest:
		res.Verified = true
	case latest && !lp:
		// Nexus reads back false: either the write was dropped or the
		// value is not reported. latest is immutable either way, which
		// is stricter than the policy asks.
		res.Verified = true
		res.After.Note = "latestPolicy=true was sent but reads back false: latest may not be redeployable"
	default:
		res.Verified = false
		res.After.Note = "latestPolicy reads back true: latest is still redeployable"
	}
	if werr != nil && !res.Verified {
		return res, werr
	}
	return res, nil
}

func nativePolicy(m map[string]any) string {
	st, _ := m["storage"].(map[string]any)
	wp, _ := st["writePolicy"].(string)
	return wp
}

func (p *Provider) put(ctx context.Context, c *httpapi.Client, ch providers.Change, repo string, m map[string]any, before providers.Immutability, latest bool, o providers.Observer) error {
	body := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(readOnly, k) {
			body[k] = v
		}
	}
	st, _ := m["storage"].(map[string]any)
	ns := make(map[string]any, len(st)+2)
	for k, v := range st {
		ns[k] = v
	}
	ns["writePolicy"] = policyAllowOnce
	ns["latestPolicy"] = latest
	body["storage"] = ns
	path := settingsPath(repo)
	rec := providers.WriteRecord{Call: "PUT " + path, Target: repo, Before: before.Native,
		After: "writePolicy=ALLOW_ONCE, latestPolicy=" + strconv.FormatBool(latest)}
	_, err := c.Do(ctx, httpapi.Request{Method: http.MethodPut, Path: path, Body: body})
	if err != nil {
		err = fmt.Errorf("repository %s: update deployment policy: %w", repo, err)
		rec.Err = err.Error()
	}
	if o != nil {
		o.Write(ch, rec)
	}
	p.log.Info("nexus write policy write", "repository", repo, "ok", err == nil)
	return err
}
