// Package harbor is the Harbor v2.x adapter.
//
// Harbor has no Go SDK here; the adapter speaks the v2.0 REST API through
// the shared httpapi client with HTTP Basic credentials (a user or a robot
// account) and no cookie jar, so Harbor's CSRF check never applies.
// Immutability is a set of project rules (repository selector + tag
// selector, doublestar patterns) evaluated per repository exactly as Harbor
// does. Project ids, not names, go into the rule paths: numeric ids work on
// every 2.x release.
//
// A fix adds one project rule (repositories **, tags ** with the policy's
// allowed patterns as excludes), or re-enables an identical disabled rule,
// whose POST Harbor would refuse as a duplicate. Existing rules are never
// deleted, disabled or edited otherwise.
package harbor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// pageSize is Harbor's maximum page_size.
const pageSize = "100"

const apiPrefix = "/api/v2.0"

// Provider is one configured Harbor instance.
type Provider struct {
	name     string
	cfg      config.Provider
	projects []string
	opts     providers.Options
	log      *slog.Logger
	base     string
	host     string

	// tweak adjusts client options (tests shorten backoffs, add transports).
	tweak func(*httpapi.Options)

	api httpapi.Lazy

	locks sync.Map // project -> *sync.Mutex
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
	if p.Endpoint == "" {
		return nil, errors.New("harbor: endpoint is required (the Harbor URL, e.g. https://harbor.example.com)")
	}
	if p.Credentials.UsernameEnv == "" || p.Credentials.PasswordEnv == "" {
		return nil, errors.New("harbor: credentials.username_env and credentials.password_env must name the variables holding the user or robot account")
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("harbor: endpoint %q must be an http(s) URL", p.Endpoint)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(p.Endpoint, "/"), apiPrefix)
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	return &Provider{name: p.Name, cfg: p, projects: s.Projects, opts: o, log: o.Log().With("provider", p.Name, "kind", providers.KindHarbor),
		base: base, host: u.Host, tweak: tweak}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "harbor".
func (p *Provider) Kind() providers.Kind { return providers.KindHarbor }

func (p *Provider) client() (*httpapi.Client, error) {
	return p.api.Client("harbor "+p.name, func() (httpapi.Options, error) {
		ue, pe := p.cfg.Credentials.UsernameEnv, p.cfg.Credentials.PasswordEnv
		user, pass := p.opts.Env(ue), p.opts.Secret(pe)
		if user == "" || pass == "" {
			return httpapi.Options{}, fmt.Errorf("environment variables %s and %s (credentials.username_env, password_env) must both be set", ue, pe)
		}
		o := httpapi.ProviderOptions(p.base, p.cfg, p.opts, p.log, httpapi.Basic{Username: user, Password: pass})
		if hc := o.HTTPClient; hc != nil && hc.Jar != nil {
			// A session cookie would switch on Harbor's CSRF check for writes.
			c := *hc
			c.Jar = nil
			o.HTTPClient = &c
		}
		if p.tweak != nil {
			p.tweak(&o)
		}
		return o, nil
	})
}

// project is the part of Harbor's Project the adapter uses.
type project struct {
	ProjectID  int64  `json:"project_id"`
	Name       string `json:"name"`
	RegistryID *int64 `json:"registry_id"`
}

// scopeHandle is the Scope.Handle of a listed project.
type scopeHandle struct {
	ID        int64
	ProxyOnly bool
}

// handle is the Repository.Handle.
type handle struct {
	ProjectID int64
}

// Scopes are the configured projects, or every project the account sees.
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	if len(p.projects) > 0 {
		out := make([]providers.Scope, 0, len(p.projects))
		for _, name := range p.projects {
			out = append(out, providers.Scope{Provider: p.name, Kind: providers.KindHarbor, Name: name})
		}
		return out, nil
	}
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	var out []providers.Scope
	err = c.Pages(ctx, httpapi.Request{Path: apiPrefix + "/projects",
		Query: url.Values{"page": {"1"}, "page_size": {pageSize}, "with_detail": {"false"}}, SamePath: true},
		func(_ context.Context, page *httpapi.Response) (string, error) {
			var ps []project
			if err := page.JSON(&ps); err != nil {
				return "", err
			}
			for _, pr := range ps {
				out = append(out, providers.Scope{Provider: p.name, Kind: providers.KindHarbor, Name: pr.Name,
					Handle: scopeHandle{ID: pr.ProjectID, ProxyOnly: pr.RegistryID != nil && *pr.RegistryID > 0}})
			}
			return httpapi.NextLink(page.Header), nil
		})
	if err != nil {
		return nil, fmt.Errorf("harbor %s: list projects: %w", p.name, err)
	}
	return out, nil
}

// lookup resolves a project name to its id (and proxy-cache flag).
func (p *Provider) lookup(ctx context.Context, c *httpapi.Client, name string) (scopeHandle, error) {
	resp, err := c.Do(ctx, httpapi.Request{Path: apiPrefix + "/projects/" + url.PathEscape(name),
		Header: http.Header{"X-Is-Resource-Name": {"true"}}})
	if err != nil {
		return scopeHandle{}, fmt.Errorf("project %s: %w", name, err)
	}
	var pr project
	if err := resp.JSON(&pr); err != nil {
		return scopeHandle{}, fmt.Errorf("project %s: %w", name, err)
	}
	if pr.ProjectID == 0 {
		return scopeHandle{}, fmt.Errorf("project %s: answer has no project_id", name)
	}
	return scopeHandle{ID: pr.ProjectID, ProxyOnly: pr.RegistryID != nil && *pr.RegistryID > 0}, nil
}

func rulesPath(id int64) string {
	return apiPrefix + "/projects/" + strconv.FormatInt(id, 10) + "/immutabletagrules"
}

// rules reads every rule of a project (Harbor's UI caps them at 15).
func (p *Provider) rules(ctx context.Context, c *httpapi.Client, id int64) ([]rule, error) {
	var out []rule
	err := c.Pages(ctx, httpapi.Request{Path: rulesPath(id), Query: url.Values{"page": {"1"}, "page_size": {pageSize}}, SamePath: true},
		func(_ context.Context, page *httpapi.Response) (string, error) {
			var rs []rule
			if err := page.JSON(&rs); err != nil {
				return "", err
			}
			out = append(out, rs...)
			return httpapi.NextLink(page.Header), nil
		})
	return out, err
}

// Repositories reads the project's rules once, then streams its
// repositories page by page, each evaluated against those rules.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	sh, ok := s.Handle.(scopeHandle)
	if !ok || sh.ID == 0 {
		if sh, err = p.lookup(ctx, c, s.Name); err != nil {
			return err
		}
	}
	rules, err := p.rules(ctx, c, sh.ID)
	if err != nil {
		return fmt.Errorf("project %s: read immutable tag rules: %w", s.Name, err)
	}
	prefix := s.Name + "/"
	check := &providers.EntryCheck{Provider: p.name, Kind: providers.KindHarbor, Scope: s.Name}
	return c.Pages(ctx, httpapi.Request{Path: apiPrefix + "/projects/" + url.PathEscape(s.Name) + "/repositories",
		Query: url.Values{"page": {"1"}, "page_size": {pageSize}}, SamePath: true},
		func(_ context.Context, page *httpapi.Response) (string, error) {
			var repos []*struct {
				Name string `json:"name"`
			}
			if err := page.JSON(&repos); err != nil {
				return "", fmt.Errorf("project %s: %w", s.Name, err)
			}
			for _, r := range repos {
				if r == nil {
					r = &struct {
						Name string `json:"name"`
					}{}
				}
				// Rules see the name without the project prefix.
				name := strings.TrimPrefix(r.Name, prefix)
				if bad, ok := check.Invalid(name); ok {
					if err := e.Repository(bad); err != nil {
						return "", err
					}
					continue
				}
				repo := providers.Repository{
					Provider: p.name, Kind: providers.KindHarbor, Scope: s.Name, Name: name,
					URI: p.host + "/" + s.Name + "/" + name, Immutability: evaluate(rules, name),
					Handle: handle{ProjectID: sh.ID},
				}
				if sh.ProxyOnly {
					repo.DefaultExemption = "proxy-cache project: tags mirror an upstream registry"
				}
				if err := e.Repository(repo); err != nil {
					return "", err
				}
			}
			return httpapi.NextLink(page.Header), nil
		})
}

// Ref is the target of a Harbor change (providers.Change.Ref): the
// project whose immutable tag rules cover the repository, and the allowed
// patterns the rule may exclude. Apply derives the rule from Allowed
// again (desiredRule), so what it writes is what Plan printed.
type Ref struct {
	Project string `json:"project"`
	// ProjectID is the id the listing saw; 0 makes Apply look it up.
	ProjectID  int64    `json:"project_id,omitempty"`
	Repository string   `json:"repository"`
	Allowed    []string `json:"allowed,omitempty"`
}

// Plan says which project rule Apply would add. It trusts the listing's
// immutability; Apply re-reads the rules before writing.
func (p *Provider) Plan(_ context.Context, r providers.Repository, pol providers.FixPolicy) (providers.Change, error) {
	allowed := pol.AllowedTags()
	c := providers.Change{Provider: p.name, Kind: providers.KindHarbor, Scope: r.Scope, Repository: r.Name, URI: r.URI, From: r.Immutability}
	h, _ := r.Handle.(handle)
	if err := providers.SetRef(&c, Ref{Project: r.Scope, ProjectID: h.ProjectID, Repository: r.Name, Allowed: allowed}); err != nil {
		return c, err
	}
	if r.Immutability.Satisfies(allowed) {
		c.Noop, c.To, c.Action = true, r.Immutability, "none: the repository already satisfies the policy"
		return c, nil
	}
	ex := expressible(allowed)
	want := desiredRule(ex)
	_, ts, _ := want.selectors()
	path := apiPrefix + "/projects/{id of " + r.Scope + "}/immutabletagrules"
	if h.ProjectID != 0 {
		path = rulesPath(h.ProjectID)
	}
	c.Target = "project-rule"
	c.Action = fmt.Sprintf("POST %s repository repoMatches \"**\", tag %s %q "+
		"(or re-enable an identical disabled rule); covers every repository of project %s, present and future",
		path, ts.Decoration, ts.Pattern, r.Scope)
	c.To = providers.Immutability{Mode: providers.ModeImmutable, Native: "repoMatches \"**\", " + ts.Decoration + " " + strconv.Quote(ts.Pattern)}
	if len(ex) > 0 {
		c.To.Mode, c.To.MutablePatterns = providers.ModePartial, ex
	}
	c.Writes = 1
	return c, nil
}

func (p *Provider) lock(project string) *sync.Mutex {
	m, _ := p.locks.LoadOrStore(project, &sync.Mutex{})
	return m.(*sync.Mutex)
}

// Apply re-reads the project's rules and writes only when no enabled rule
// already satisfies the policy: a toggle PUT for an identical disabled rule,
// else a POST. Repositories of one project therefore cost one write.
func (p *Provider) Apply(ctx context.Context, ch providers.Change, o providers.Observer) (providers.Result, error) {
	res := providers.Result{Change: ch}
	ref, err := providers.RefOf[Ref](ch, providers.KindHarbor)
	if err != nil {
		return res, err
	}
	f := fix{Ref: ref, Rule: desiredRule(expressible(ref.Allowed))}
	c, err := p.client()
	if err != nil {
		return res, err
	}
	mu := p.lock(f.Project)
	mu.Lock()
	defer mu.Unlock()
	if f.ProjectID == 0 {
		sh, err := p.lookup(ctx, c, f.Project)
		if err != nil {
			return res, err
		}
		f.ProjectID = sh.ID
	}
	var werr error
	if !ch.Noop {
		rules, err := p.rules(ctx, c, f.ProjectID)
		if err != nil {
			return res, fmt.Errorf("project %s: read immutable tag rules before writing: %w", f.Project, err)
		}
		if !satisfied(rules, f.Allowed) {
			res.Writes, werr = p.write(ctx, c, ch, f, rules, o)
		}
	}
	after, err := p.rules(ctx, c, f.ProjectID)
	if err != nil {
		if werr != nil {
			return res, errors.Join(werr, fmt.Errorf("project %s: read back immutable tag rules: %w", f.Project, err))
		}
		return res, fmt.Errorf("project %s: immutable tag rules: %w: %w", f.Project, providers.ErrReadBack, err)
	}
	res.After = evaluate(after, f.Repository)
	res.Verified = res.After.Satisfies(f.Allowed)
	if !res.Verified && werr != nil {
		return res, werr
	}
	return res, nil
}

// fix is a change's Ref with the rule it adds.
type fix struct {
	Ref
	Rule rule
}

// write re-enables an identical disabled rule or creates the rule. A 409
// is resolved by reading the rules again, never assumed to be success.
func (p *Provider) write(ctx context.Context, c *httpapi.Client, ch providers.Change, f fix, rules []rule, o providers.Observer) (int64, error) {
	if done, err := p.reenable(ctx, c, ch, f, rules, o); done {
		return 1, err
	}
	path := rulesPath(f.ProjectID)
	rec := providers.WriteRecord{Call: "POST " + path, Target: f.Project, Before: fmt.Sprintf("%d rules", len(rules)),
		After: describeNew(f.Rule)}
	_, err := c.Do(ctx, httpapi.Request{Method: http.MethodPost, Path: path, Body: f.Rule})
	if err != nil {
		rec.Err = err.Error()
	}
	p.report(ch, rec, o)
	var ae *providers.APIError
	if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		if err != nil {
			err = fmt.Errorf("project %s: create immutable tag rule: %w", f.Project, err)
		}
		return 1, err
	}
	// 409: an identical rule exists, possibly created concurrently or disabled.
	again, rerr := p.rules(ctx, c, f.ProjectID)
	if rerr != nil {
		return 1, fmt.Errorf("project %s: rule create answered 409 and the rules cannot be read back: %w", f.Project, rerr)
	}
	if satisfied(again, f.Allowed) {
		return 1, nil
	}
	if done, perr := p.reenable(ctx, c, ch, f, again, o); done {
		return 2, perr
	}
	return 1, fmt.Errorf("project %s: create immutable tag rule: %w (no identical rule found when reading back)", f.Project, err)
}

// reenable flips "disabled" on an identical disabled rule. Harbor's PUT
// only toggles when "disabled" differs, so the rest of the rule, sent back
// as read, stays as it is.
func (p *Provider) reenable(ctx context.Context, c *httpapi.Client, ch providers.Change, f fix, rules []rule, o providers.Observer) (done bool, err error) {
	for _, r := range rules {
		if !r.Disabled || !sameRule(r, f.Rule) {
			continue
		}
		path := rulesPath(f.ProjectID) + "/" + strconv.FormatInt(r.ID, 10)
		body := r
		body.Disabled = false
		rec := providers.WriteRecord{Call: "PUT " + path, Target: f.Project, Before: r.describe(), After: body.describe()}
		_, err = c.Do(ctx, httpapi.Request{Method: http.MethodPut, Path: path, Body: body})
		if err != nil {
			err = fmt.Errorf("project %s: re-enable immutable tag rule %d: %w", f.Project, r.ID, err)
			rec.Err = err.Error()
		}
		p.report(ch, rec, o)
		return true, err
	}
	return false, nil
}

func (p *Provider) report(ch providers.Change, rec providers.WriteRecord, o providers.Observer) {
	if o != nil {
		o.Write(ch, rec)
	}
	p.log.Info("harbor immutable tag rule write", "call", rec.Call, "project", rec.Target, "ok", rec.Err == "")
}

func describeNew(r rule) string {
	_, ts, _ := r.selectors()
	return fmt.Sprintf("new rule: repoMatches %q, %s %q", "**", ts.Decoration, ts.Pattern)
}
