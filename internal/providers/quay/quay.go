// Package quay is the Red Hat Quay adapter (quay.io and self-hosted 3.17+).
//
// Quay has no Go SDK; the adapter speaks the v1 REST API through the shared
// httpapi client with an OAuth bearer token. Immutability comes from
// immutability policies (regex, full match) at organisation and repository
// level, OR-ed together. The policy routes exist only when
// FEATURE_IMMUTABLE_TAGS is on (Quay 3.17+); a 404 there means "unsupported".
//
// Fixes add one universal policy {tagPattern ".*", tagPatternMatches true}:
// at organisation level when the namespace is an organisation (it covers
// future repositories too), else on the repository. Existing policies are
// never edited or deleted.
package quay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// DefaultEndpoint is quay.io's API root.
const DefaultEndpoint = "https://quay.io"

// defaultMaxConcurrent bounds the policy reads in flight per namespace when
// rate.max_concurrent is not set.
const defaultMaxConcurrent = 8

// Native values and notes shown in reports.
const (
	noteUnsupported = "immutability policies are not available on this Quay: the policy API answers 404; " +
		"an administrator must enable FEATURE_IMMUTABLE_TAGS (Quay 3.17+)"
	notePartial = "only tags matching the listed policies are immutable; every other tag stays mutable " +
		"(per-tag immutable flags and quay.immutable labels are not audited)"
)

// universalPatterns full-match every tag name (tags are never empty).
var universalPatterns = []string{".*", "^.*$", "(.*)", "^(.*)$", ".+", "^.+$", ".*$", "^.*"}

// fixPatterns are tried in order when creating the universal policy: Quay
// refuses a second policy with the same tagPattern, even an inverted one.
var fixPatterns = []string{".*", "^.*$", "(.*)"}

// Provider is one configured Quay instance.
type Provider struct {
	name       string
	cfg        config.Provider
	namespaces []string
	opts       providers.Options
	log        *slog.Logger
	base       string
	host       string

	// tweak adjusts client options (tests shorten backoffs).
	tweak func(*httpapi.Options)

	api httpapi.Lazy

	locks sync.Map // fix target -> *sync.Mutex
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Enforcer = (*Provider)(nil)
)

// New builds the adapter; it makes no API call.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	return newProvider(p, o, nil)
}

func newProvider(p config.Provider, o providers.Options, tweak func(*httpapi.Options)) (*Provider, error) {
	if p.Credentials.TokenEnv == "" {
		return nil, errors.New("quay: credentials.token_env must name the variable holding the OAuth token")
	}
	base := strings.TrimSuffix(p.Endpoint, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("quay: endpoint %q must be an http(s) URL", p.Endpoint)
	}
	base = strings.TrimSuffix(base, "/api/v1")
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	return &Provider{name: p.Name, cfg: p, namespaces: s.Namespaces, opts: o, log: o.Log().With("provider", p.Name, "kind", providers.KindQuay),
		base: base, host: u.Host, tweak: tweak}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "quay".
func (p *Provider) Kind() providers.Kind { return providers.KindQuay }

func (p *Provider) client() (*httpapi.Client, error) {
	return p.api.Client("quay "+p.name, func() (httpapi.Options, error) {
		env := p.cfg.Credentials.TokenEnv
		tok := p.opts.Secret(env)
		if tok == "" {
			return httpapi.Options{}, fmt.Errorf("environment variable %s (credentials.token_env) is empty", env)
		}
		o := httpapi.ProviderOptions(p.base, p.cfg, p.opts, p.log, httpapi.StaticBearer(tok))
		if p.tweak != nil {
			p.tweak(&o)
		}
		return o, nil
	})
}

// Scopes are the configured namespaces (organisations or users).
func (p *Provider) Scopes(context.Context) ([]providers.Scope, error) {
	if len(p.namespaces) == 0 {
		return nil, fmt.Errorf("quay %s: namespaces is empty: list the organisations and users to audit", p.name)
	}
	out := make([]providers.Scope, 0, len(p.namespaces))
	for _, ns := range p.namespaces {
		out = append(out, providers.Scope{Provider: p.name, Kind: providers.KindQuay, Name: ns})
	}
	return out, nil
}

// policy is Quay's immutability policy view.
type policy struct {
	UUID              string `json:"uuid"`
	TagPattern        string `json:"tagPattern"`
	TagPatternMatches *bool  `json:"tagPatternMatches"`
}

// matches reports tagPatternMatches, which defaults to true.
func (pl policy) matches() bool { return pl.TagPatternMatches == nil || *pl.TagPatternMatches }

func (pl policy) universal() bool {
	return pl.matches() && slices.Contains(universalPatterns, strings.TrimSpace(pl.TagPattern))
}

// handle is the adapter-private part of a Repository.
type handle struct {
	Org bool
}

func orgPolicyPath(org string) string {
	return "/api/v1/organization/" + url.PathEscape(org) + "/immutabilitypolicy/"
}

func repoPolicyPath(ns, repo string) string {
	return "/api/v1/repository/" + url.PathEscape(ns) + "/" + url.PathEscape(repo) + "/immutabilitypolicy/"
}

// isOrg tells an organisation from a user namespace: the organisation route
// answers 404 for a user. A namespace that is neither is a scope error.
func (p *Provider) isOrg(ctx context.Context, c *httpapi.Client, ns string) (bool, error) {
	err := c.DoJSON(ctx, http.MethodGet, "/api/v1/organization/"+url.PathEscape(ns), nil, nil)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, providers.ErrNotFound) {
		return false, fmt.Errorf("namespace %s: look up organisation: %w", ns, err)
	}
	uerr := c.DoJSON(ctx, http.MethodGet, "/api/v1/users/"+url.PathEscape(ns), nil, nil)
	if errors.Is(uerr, providers.ErrNotFound) {
		return false, fmt.Errorf("namespace %s: neither an organisation nor a user: %w", ns, uerr)
	}
	// Any other answer (even a denial of the user lookup) leaves "user" as
	// the only reading consistent with the organisation 404.
	return false, nil
}

// policies lists one policy route; unsupported is true on 404.
func policies(ctx context.Context, c *httpapi.Client, path string) (ps []policy, unsupported bool, err error) {
	var body struct {
		Policies []policy `json:"policies"`
	}
	resp, err := c.Do(ctx, httpapi.Request{Path: path})
	if errors.Is(err, providers.ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	// A 200 carrying {"error_message": ...} is not "no policy".
	err = resp.JSONRequired(&body, "policies")
	return body.Policies, false, err
}

// Repositories lists one namespace and emits each repository with its
// effective immutability (organisation policies OR repository policies).
//
// One goroutine pages the catalog and hands names over an unbuffered channel
// to maxConcurrent workers that read and emit, so the next page is fetched
// while the policies of this one are read, and memory holds one page plus one
// repository per worker whatever the size of the namespace.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	ns := s.Name
	org, err := p.isOrg(ctx, c, ns)
	if err != nil {
		return err
	}
	var orgPolicies []policy
	featureOff := false
	if org {
		orgPolicies, featureOff, err = policies(ctx, c, orgPolicyPath(ns))
		if err != nil {
			return fmt.Errorf("namespace %s: read organisation immutability policies: %w", ns, err)
		}
		if featureOff {
			e.Warn(providers.Warning{Provider: p.name, Scope: ns, Code: "quay-immutable-tags-off",
				Message: "the immutability policy API answers 404: enable FEATURE_IMMUTABLE_TAGS (Quay 3.17+)"})
		}
	}

	check := &providers.EntryCheck{Provider: p.name, Kind: providers.KindQuay, Scope: ns}
	return providers.FanOut(ctx, p.maxConcurrent(), func(ctx context.Context, send func(string) error) error {
		return p.list(ctx, c, ns, providers.SendWanted(e, send))
	}, func(ctx context.Context, name string) error {
		if bad, ok := check.Invalid(name); ok {
			return e.Repository(bad)
		}
		repo := providers.Repository{
			Provider: p.name, Kind: providers.KindQuay, Scope: ns, Name: name,
			URI: p.host + "/" + ns + "/" + name, Handle: handle{Org: org},
		}
		if featureOff {
			repo.Immutability = unsupported()
		} else {
			repo.Immutability = p.readRepo(ctx, c, ns, name, org, orgPolicies)
		}
		// A read cut short by cancellation says nothing about the
		// repository: stop rather than emit it as unknown.
		if err := ctx.Err(); err != nil {
			return err
		}
		return e.Repository(repo)
	})
}

// list pages the namespace's repositories and sends each name until the
// listing ends, fails or the run stops.
func (p *Provider) list(ctx context.Context, c *httpapi.Client, ns string, send func(string) error) error {
	return httpapi.Cursor(ctx, func(ctx context.Context, cursor string) (string, error) {
		q := url.Values{"namespace": {ns}}
		if cursor != "" {
			q.Set("next_page", cursor)
		}
		resp, err := c.Do(ctx, httpapi.Request{Path: "/api/v1/repository", Query: q})
		if err != nil {
			return "", fmt.Errorf("namespace %s: list repositories: %w", ns, err)
		}
		var page struct {
			Repositories []struct {
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			} `json:"repositories"`
			NextPage string `json:"next_page"`
		}
		if err := resp.JSONRequired(&page, "repositories"); err != nil {
			return "", fmt.Errorf("namespace %s: %w", ns, err)
		}
		for _, r := range page.Repositories {
			if r.Namespace != "" && r.Namespace != ns {
				continue
			}
			if err := send(r.Name); err != nil {
				return "", err
			}
		}
		return page.NextPage, nil
	})
}

// maxConcurrent is how many repositories of one namespace are read at once.
func (p *Provider) maxConcurrent() int {
	if n := p.cfg.Rate.MaxConcurrent; n > 0 {
		return n
	}
	return defaultMaxConcurrent
}

// readRepo reads the repository's own policies and combines them with the
// organisation's. A failure yields ModeUnknown with the API's message.
func (p *Provider) readRepo(ctx context.Context, c *httpapi.Client, ns, name string, org bool, orgPolicies []policy) providers.Immutability {
	if slices.ContainsFunc(orgPolicies, policy.universal) {
		// The organisation already covers every tag; the repository's own
		// policies cannot change that, so skip the call.
		return evaluate(orgPolicies, nil)
	}
	rp, off, err := policies(ctx, c, repoPolicyPath(ns, name))
	switch {
	case err != nil:
		return providers.Immutability{Mode: providers.ModeUnknown, Error: err.Error()}
	case off && org:
		// The organisation route answered, so the feature is on: the
		// repository itself is gone or hidden.
		return providers.Immutability{Mode: providers.ModeUnknown,
			Error: "repository immutability policies answered 404 (repository not found)"}
	case off:
		return unsupported()
	}
	return evaluate(orgPolicies, rp)
}

func unsupported() providers.Immutability {
	return providers.Immutability{Mode: providers.ModeUnsupported, Native: "immutability policy API unavailable (404)", Note: noteUnsupported}
}

// evaluate combines organisation and repository policies (OR).
//
// An inverted policy (tagPatternMatches false) whose pattern immutag can
// read as a list of allowed patterns makes every other tag immutable, so
// the mutable tags are at most those patterns. With several, any one of
// them bounds what stays mutable; the shortest list is reported.
func evaluate(orgPolicies, repoPolicies []policy) providers.Immutability {
	var native, patterns, except []string
	universal := false
	add := func(level string, ps []policy) {
		for _, pl := range ps {
			d := level + ":" + pl.TagPattern
			pat := pl.TagPattern
			if !pl.matches() {
				d += " (inverted)"
				pat = "!(" + pl.TagPattern + ")"
				if ws, ok := regexWildcards(pl.TagPattern); ok && (except == nil || len(ws) < len(except)) {
					except = ws
				}
			}
			native = append(native, d)
			patterns = append(patterns, pat)
			universal = universal || pl.universal()
		}
	}
	add("org", orgPolicies)
	add("repo", repoPolicies)
	switch {
	case universal:
		return providers.Immutability{Mode: providers.ModeImmutable, Native: strings.Join(native, ", ")}
	case except != nil:
		return providers.Immutability{Mode: providers.ModePartial, Native: strings.Join(native, ", "),
			ImmutablePatterns: patterns, MutablePatterns: except,
			Note: "every tag is immutable except those an inverted policy leaves out"}
	case len(patterns) > 0:
		return providers.Immutability{Mode: providers.ModePartial, Native: strings.Join(native, ", "),
			ImmutablePatterns: patterns, MutablePatterns: []string{"*"}, Note: notePartial}
	}
	return providers.Immutability{Mode: providers.ModeMutable, Native: "no immutability policy"}
}

// Ref is the target of a Quay change (providers.Change.Ref): the
// repository, whether its namespace is an organisation (the policy is then
// written once for the whole organisation), and the allowed patterns an
// inverted policy leaves mutable.
type Ref struct {
	Org        bool     `json:"org,omitempty"`
	Namespace  string   `json:"namespace"`
	Repository string   `json:"repository"`
	Allowed    []string `json:"allowed,omitempty"`
}

func (f Ref) path() string {
	if f.Org {
		return orgPolicyPath(f.Namespace)
	}
	return repoPolicyPath(f.Namespace, f.Repository)
}

func (f Ref) target() string {
	if f.Org {
		return f.Namespace
	}
	return f.Namespace + "/" + f.Repository
}

// Plan says which universal policy Apply would create. It trusts the
// listing's immutability; Apply re-reads before writing.
func (p *Provider) Plan(ctx context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	c := providers.Change{Provider: p.name, Kind: providers.KindQuay, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability}
	if r.Mode == providers.ModeUnsupported {
		return c, &providers.APIError{Class: providers.ErrUnsupported,
			Message: fmt.Sprintf("%s/%s cannot be fixed: %s", r.Scope, r.Name, noteUnsupported)}
	}
	h, ok := r.Handle.(handle)
	org := h.Org
	if !ok {
		cl, err := p.client()
		if err != nil {
			return c, err
		}
		if org, err = p.isOrg(ctx, cl, r.Scope); err != nil {
			return c, err
		}
	}
	f := Ref{Org: org, Namespace: r.Scope, Repository: r.Name, Allowed: allowedPatterns(pol.MutableTagsAllowed)}
	if err := providers.SetRef(&c, f); err != nil {
		return c, err
	}
	if r.Mode == providers.ModeImmutable {
		c.Noop, c.To, c.Action = true, r.Immutability, "none: every tag is already immutable"
		return c, nil
	}
	body := `{"tagPattern": ".*", "tagPatternMatches": true}`
	c.To = providers.Immutability{Mode: providers.ModeImmutable, Native: "universal policy .*"}
	if allowed := allowedPatterns(pol.MutableTagsAllowed); len(allowed) > 0 {
		re := allowedRegex(allowed)
		b, _ := json.Marshal(map[string]any{"tagPattern": re, "tagPatternMatches": false})
		body = string(b)
		c.To = providers.Immutability{Mode: providers.ModePartial, Native: "inverted policy " + re, MutablePatterns: allowed}
	}
	if org {
		c.Target = "organization-policy"
		c.Action = fmt.Sprintf("POST %s %s (organisation-wide: covers every repository of %s, present and future)", f.path(), body, r.Scope)
	} else {
		c.Action = fmt.Sprintf("POST %s %s", f.path(), body)
	}
	c.Writes = 1
	return c, nil
}

func (p *Provider) lock(key string) *sync.Mutex {
	m, _ := p.locks.LoadOrStore(key, &sync.Mutex{})
	return m.(*sync.Mutex)
}

// Apply creates the universal policy unless one already exists at the
// target level (so many repositories of one organisation lead to one POST),
// then reads the repository's effective immutability back.
func (p *Provider) Apply(ctx context.Context, ch providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: ch}
	f, err := providers.RefOf[Ref](ch, providers.KindQuay)
	if err != nil {
		return res, err
	}
	c, err := p.client()
	if err != nil {
		return res, err
	}
	mu := p.lock(f.path())
	mu.Lock()
	defer mu.Unlock()

	allowed := f.Allowed
	var werr error
	if !ch.Noop {
		existing, off, err := policies(ctx, c, f.path())
		switch {
		case err != nil:
			return res, fmt.Errorf("%s: read immutability policies before writing: %w", f.target(), err)
		case off:
			return res, &providers.APIError{Class: providers.ErrUnsupported, Status: http.StatusNotFound,
				Message: fmt.Sprintf("%s: %s", f.target(), noteUnsupported)}
		}
		if !satisfied(evaluate(existing, nil), allowed) {
			werr = p.create(ctx, c, ch, f, existing, allowed, o)
			res.Writes = 1
		}
	}
	after, err := p.verify(ctx, c, f)
	if err != nil {
		if werr != nil {
			return res, errors.Join(werr, fmt.Errorf("%s: read back: %w", f.target(), err))
		}
		return res, fmt.Errorf("%s: %w: %w", f.target(), providers.ErrReadBack, err)
	}
	res.After = after
	res.Verified = satisfied(after, allowed)
	if !res.Verified && werr != nil {
		return res, werr
	}
	return res, nil
}

// satisfied reports whether im leaves mutable only tags allowed: every tag
// immutable, or an inverted policy leaving out only allowed patterns.
func satisfied(im providers.Immutability, allowed []string) bool {
	switch im.Mode {
	case providers.ModeImmutable:
		return true
	case providers.ModePartial:
		for _, m := range im.MutablePatterns {
			if !slices.Contains(allowed, m) {
				return false
			}
		}
		return len(im.MutablePatterns) > 0
	}
	return false
}

// create POSTs the fix policy with the first pattern not already used at
// that level (Quay refuses a second policy with the same tagPattern), and
// reports the write: the universal policy, or with allowed patterns the
// inverted policy that leaves only them mutable.
func (p *Provider) create(ctx context.Context, c *httpapi.Client, ch providers.Change, f Ref, existing []policy, allowed []string, o providers.Observer) error {
	candidates, matches := fixPatterns, true
	if len(allowed) > 0 {
		re := allowedRegex(allowed)
		candidates, matches = []string{re, "(?:" + re + ")"}, false
	}
	pattern := candidates[0]
	for _, fp := range candidates {
		if !slices.ContainsFunc(existing, func(pl policy) bool { return strings.TrimSpace(pl.TagPattern) == fp }) {
			pattern = fp
			break
		}
	}
	body := map[string]any{"tagPattern": pattern, "tagPatternMatches": matches}
	before := "no policies"
	if len(existing) > 0 {
		ds := make([]string, len(existing))
		for i, pl := range existing {
			ds[i] = pl.TagPattern
			if !pl.matches() {
				ds[i] += " (inverted)"
			}
		}
		before = "policies: " + strings.Join(ds, ", ")
	}
	rec := providers.WriteRecord{Call: "POST " + f.path(), Target: f.target(), Before: before,
		After: fmt.Sprintf("policy tagPattern %q tagPatternMatches %t", pattern, matches)}
	_, err := c.Do(ctx, httpapi.Request{Method: http.MethodPost, Path: f.path(), Body: body})
	if err != nil {
		err = fmt.Errorf("%s: create immutability policy: %w", f.target(), err)
		rec.Err = err.Error()
	}
	if o != nil {
		o.Write(ch, rec)
	}
	p.log.InfoContext(ctx, "quay immutability policy created", "target", f.target(), "pattern", pattern, "ok", err == nil)
	return err
}

// verify re-reads the policies that decide the repository's immutability.
func (p *Provider) verify(ctx context.Context, c *httpapi.Client, f Ref) (providers.Immutability, error) {
	var orgPolicies []policy
	if f.Org {
		ps, off, err := policies(ctx, c, orgPolicyPath(f.Namespace))
		if err != nil {
			return providers.Immutability{}, err
		}
		if off {
			return unsupported(), nil
		}
		orgPolicies = ps
	}
	im := p.readRepo(ctx, c, f.Namespace, f.Repository, f.Org, orgPolicies)
	if im.Mode == providers.ModeUnknown {
		return im, errors.New(im.Error)
	}
	return im, nil
}
