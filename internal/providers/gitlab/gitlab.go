// Package gitlab is the GitLab container registry adapter.
//
// Groups, projects and container repositories are read over REST with
// GitLab's Go client (gitlab.com/gitlab-org/api/client-go/v2). Tag rules are
// read and written over GraphQL through the same client, because REST hides
// immutable rules (its list returns only push/delete protection rules) and
// cannot create them: an immutable rule is a createContainerProtectionTagRule
// with both access levels null, and only GraphQL exposes the "immutable"
// flag. Rules belong to a project and cover all its repositories, present
// and future, so one project is one scope and one fix target.
//
// Immutable rules need GitLab Ultimate (18.2+) and the Owner role; a fix
// GitLab refuses for tier or role is reported as unsupported with GitLab's
// own reason. Rule changes reach the registry through its JWTs, so they can
// take up to the registry token lifetime (5 minutes by default, 15 on
// GitLab.com) to apply to pushes.
package gitlab

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
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Kind is the registry kind this adapter serves (config and report contract).
const Kind = providers.KindGitLab

// DefaultEndpoint is GitLab.com.
const DefaultEndpoint = "https://gitlab.com"

// Page sizes: GitLab's REST maximum, and the maximum of the GraphQL tags
// connection (ContainerRepositoryDetails.tags max_page_size 20).
const (
	perPage     = 100
	tagPageSize = 20
)

// Provider is one configured GitLab instance.
type Provider struct {
	name string
	cfg  config.Provider
	opts providers.Options
	log  *slog.Logger
	base string

	// groups and projects are full paths (acme, acme/platform/api).
	groups, projects []string

	// tweak adjusts client options (tests shorten backoffs).
	tweak func(*[]gl.ClientOptionFunc)

	once   sync.Once
	client *gl.Client
	err    error

	locks sync.Map // project path -> *sync.Mutex
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Enforcer  = (*Provider)(nil)
	_ providers.TagLister = (*Provider)(nil)
)

// New builds the adapter; it makes no API call and reads no credential.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	return newProvider(p, o)
}

func newProvider(p config.Provider, o providers.Options) (*Provider, error) {
	base := p.Endpoint
	if base == "" {
		base = DefaultEndpoint
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gitlab: endpoint %q must be an http(s) URL such as https://gitlab.example.com", base)
	}
	if p.Credentials.TokenEnv == "" {
		return nil, errors.New("gitlab: credentials.token_env must name the variable holding a personal, group or project access token")
	}
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	if len(s.Groups) == 0 && len(s.Projects) == 0 {
		return nil, errors.New("gitlab: groups or projects must list at least one group or project path")
	}
	base = strings.TrimSuffix(strings.TrimSuffix(base, "/"), "/api/v4")
	return &Provider{name: p.Name, cfg: p, opts: o, base: base,
		groups: s.Groups, projects: s.Projects,
		log: o.Log().With("provider", p.Name, "kind", Kind)}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "gitlab".
func (p *Provider) Kind() providers.Kind { return Kind }

func (p *Provider) api() (*gl.Client, error) {
	p.once.Do(func() {
		env := p.cfg.Credentials.TokenEnv
		tok := p.opts.Secret(env)
		if tok == "" {
			p.err = fmt.Errorf("gitlab %s: environment variable %s (credentials.token_env) is not set", p.name, env)
			return
		}
		// client-go's retry loop (go-retryablehttp) stays, with the shared
		// REST client's rules in its CheckRetry and Backoff; under it every
		// attempt is bounded and its body read whole, within the size limit,
		// by httpapi.AttemptTransport, so a stall or a reset mid-answer is a
		// retried attempt and a gzip bomb is refused rather than half-read.
		rt, err := httpapi.Transport(p.opts.HTTPClient, p.cfg.TLS)
		if err != nil {
			p.err = fmt.Errorf("gitlab %s: %w", p.name, err)
			return
		}
		timeout := time.Duration(0) // httpapi.DefaultTimeout
		if hc := p.opts.HTTPClient; hc != nil && hc.Timeout > 0 {
			timeout = hc.Timeout
		}
		if at := p.opts.Retry.AttemptTimeout; at > 0 {
			timeout = at
		}
		rt = &httpapi.AttemptTransport{Base: &httpapi.DebugTransport{Base: rt, Logger: p.log}, Timeout: timeout}
		// As in the shared REST client: never follow a redirect, which
		// would carry the token to another origin.
		hc := httpapi.NoRedirectClient(&http.Client{Transport: rt}, p.name)
		opts := []gl.ClientOptionFunc{
			gl.WithBaseURL(p.base + "/api/v4"),
			gl.WithHTTPClient(hc),
			gl.WithUserAgent("immutag"),
			gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
			gl.WithCustomRetryMax(httpapi.DefaultMaxRetries),
			gl.WithCustomRetry(p.checkRetry),
			gl.WithCustomBackoff(p.backoff),
		}
		if r := p.cfg.Rate.RequestsPerSecond; r > 0 {
			opts = append(opts, gl.WithCustomLimiter(httpapi.NewLimiter(config.Rate{RequestsPerSecond: r}, 0)))
		}
		if p.tweak != nil {
			p.tweak(&opts)
		}
		p.client, p.err = gl.NewClient(tok, opts...)
		if p.err != nil {
			p.err = fmt.Errorf("gitlab %s: %w", p.name, p.err)
		}
	})
	return p.client, p.err
}

// apiError converts a client-go error into the shared *providers.APIError
// (the token never appears: client-go's messages carry method, URL and the
// API's own text).
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		ae := &providers.APIError{Class: httpapi.ClassForStatus(er.StatusCode), Status: er.StatusCode, Message: er.Message, Err: err}
		if er.Response != nil {
			if d, ok := httpapi.RetryAfter(er.Response.Header, time.Now()); ok {
				ae.RetryAfter = d
			}
		}
		return ae
	}
	return err
}

// scopeHandle is the Scope.Handle of a project.
type scopeHandle struct {
	ID int64
}

// handle is the Repository.Handle.
type handle struct {
	ProjectID int64
	RepoID    int64
}

// Scopes are the configured projects plus every project of the configured
// groups and their subgroups whose container registry is not disabled.
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	seen := map[string]bool{}
	var out []providers.Scope
	add := func(path string, id int64) {
		if seen[path] {
			return
		}
		seen[path] = true
		out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: path, Handle: scopeHandle{ID: id}})
	}
	for _, pr := range p.projects {
		add(strings.Trim(pr, "/"), 0)
	}
	if len(p.groups) == 0 {
		return out, nil
	}
	c, err := p.api()
	if err != nil {
		return nil, err
	}
	for _, g := range p.groups {
		g = strings.Trim(g, "/")
		opt := &gl.ListGroupProjectsOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: 1},
			IncludeSubGroups: gl.Ptr(true), Archived: gl.Ptr(false)}
		var guard httpapi.LoopGuard
		for {
			cctx, cancel := begin(ctx, true)
			ps, resp, err := c.Groups.ListGroupProjects(g, opt, gl.WithContext(cctx))
			cancel()
			if err != nil {
				return nil, fmt.Errorf("gitlab %s: list projects of group %s: %w", p.name, g, apiError(err))
			}
			for _, pr := range ps {
				if pr.ContainerRegistryAccessLevel == gl.DisabledAccessControl {
					continue
				}
				add(pr.PathWithNamespace, pr.ID)
			}
			next, err := nextPage(resp)
			if err == nil && next != 0 {
				err = guard.Check(strconv.FormatInt(next, 10))
			}
			if err != nil {
				return nil, fmt.Errorf("gitlab %s: list projects of group %s: %w", p.name, g, err)
			}
			if next == 0 {
				break
			}
			opt.Page = next
		}
	}
	return out, nil
}

// Repositories reads the project's tag rules once (GraphQL), then streams
// its container repositories page by page (REST), each with the project's
// immutability.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.api()
	if err != nil {
		return err
	}
	rules, err := p.rules(ctx, c, s.Name)
	if err != nil {
		return fmt.Errorf("project %s: read protection tag rules: %w", s.Name, err)
	}
	im := evaluate(rules)
	return p.eachRepo(ctx, c, s.Name, func(r *gl.RegistryRepository) error {
		return e.Repository(providers.Repository{
			Provider: p.name, Kind: Kind, Scope: s.Name, Name: r.Path, URI: r.Location,
			Immutability: im, Handle: handle{ProjectID: r.ProjectID, RepoID: r.ID},
		})
	})
}

func (p *Provider) eachRepo(ctx context.Context, c *gl.Client, project string, fn func(*gl.RegistryRepository) error) error {
	opt := &gl.ListProjectRegistryRepositoriesOptions{ListOptions: gl.ListOptions{PerPage: perPage, Page: 1}}
	var guard httpapi.LoopGuard
	for {
		cctx, cancel := begin(ctx, true)
		repos, resp, err := c.ContainerRegistry.ListProjectRegistryRepositories(project, opt, gl.WithContext(cctx))
		cancel()
		if err != nil {
			return fmt.Errorf("project %s: list container repositories: %w", project, apiError(err))
		}
		for _, r := range repos {
			if r == nil {
				// A null entry has no path: the engine reports the empty
				// name as an invalid listing entry instead of a panic here.
				r = &gl.RegistryRepository{}
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		next, err := nextPage(resp)
		if err == nil && next != 0 {
			err = guard.Check(strconv.FormatInt(next, 10))
		}
		if err != nil {
			return fmt.Errorf("project %s: list container repositories: %w", project, err)
		}
		if next == 0 {
			return nil
		}
		opt.Page = next
	}
}

// nextPage is the page after resp (0: resp was the last). client-go reads
// X-Next-Page as a number and takes anything else for "no next page",
// which would end a listing early and report it complete; a value that is
// not a page number (a URL, say, pointing at another host) fails the
// listing instead. The adapter never follows a URL from an answer: the
// next request is always built on the configured endpoint.
func nextPage(resp *gl.Response) (int64, error) {
	if resp.NextPage > 0 {
		return resp.NextPage, nil
	}
	v := strings.TrimSpace(resp.Header.Get("X-Next-Page"))
	if v == "" || v == "0" {
		return 0, nil
	}
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		v = httpapi.RedactURL(u)
	}
	if len(v) > 200 {
		v = v[:200] + "..."
	}
	return 0, fmt.Errorf("X-Next-Page %q is not a page number; the listing is incomplete", v)
}

// ---- GraphQL ----

const rulesQuery = `query immutagTagRules($fullPath: ID!, $after: String) {
  project(fullPath: $fullPath) {
    containerProtectionTagRules(first: 100, after: $after) {
      nodes { id tagNamePattern minimumAccessLevelForPush minimumAccessLevelForDelete immutable }
      pageInfo { endCursor hasNextPage }
    }
  }
}`

const createRuleMutation = `mutation immutagCreateTagRule($input: CreateContainerProtectionTagRuleInput!) {
  createContainerProtectionTagRule(input: $input) {
    containerProtectionTagRule { id tagNamePattern minimumAccessLevelForPush minimumAccessLevelForDelete immutable }
    errors
  }
}`

const tagsQuery = `query immutagTags($id: ContainerRepositoryID!, $after: String) {
  containerRepository(id: $id) {
    tags(first: 20, after: $after) {
      nodes { name digest createdAt publishedAt }
      pageInfo { endCursor hasNextPage }
    }
  }
}`

type pageInfo struct {
	EndCursor   string `json:"endCursor"`
	HasNextPage bool   `json:"hasNextPage"`
}

type gqlError struct {
	Message string `json:"message"`
}

// gqlErrors turns the "errors" of a 200 answer into an error: GraphQL
// reports unknown fields (an older GitLab), missing permissions and
// timeouts there, not in the HTTP status.
func gqlErrors(errs []gqlError) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	return &providers.APIError{Class: classify(msgs), Status: http.StatusOK, Code: "graphql", Message: strings.Join(msgs, "; ")}
}

func classify(msgs []string) providers.ErrorClass {
	for _, m := range msgs {
		l := strings.ToLower(m)
		switch {
		case strings.Contains(l, "doesn't exist on type") || strings.Contains(l, "not available"):
			return providers.ErrUnsupported
		case strings.Contains(l, "unauthorized") || strings.Contains(l, "permission") || strings.Contains(l, "does not exist or you don't have"):
			return providers.ErrDenied
		}
	}
	return providers.ErrOther
}

// graphql sends one query or mutation. Every GraphQL call is a POST; a
// query is a read and is retried like a GET, a mutation only where the
// server cannot have acted on it.
func (p *Provider) graphql(ctx context.Context, c *gl.Client, query string, vars map[string]any, out any) error {
	ctx, cancel := begin(ctx, !strings.HasPrefix(strings.TrimSpace(query), "mutation"))
	defer cancel()
	_, err := c.GraphQL.Do(gl.GraphQLQuery{Query: query, Variables: vars}, out, gl.WithContext(ctx))
	return apiError(err)
}

// rules reads every protection tag rule of a project, immutable ones
// included. A project GitLab does not return (missing or not visible to
// the token) is an error: no rules must never read as "mutable".
func (p *Provider) rules(ctx context.Context, c *gl.Client, project string) ([]rule, error) {
	var out []rule
	after := ""
	var guard httpapi.LoopGuard
	for {
		var resp struct {
			Data struct {
				Project *struct {
					Rules *struct {
						Nodes    []rule   `json:"nodes"`
						PageInfo pageInfo `json:"pageInfo"`
					} `json:"containerProtectionTagRules"`
				} `json:"project"`
			} `json:"data"`
			Errors []gqlError `json:"errors"`
		}
		vars := map[string]any{"fullPath": project}
		if after != "" {
			vars["after"] = after
		}
		if err := p.graphql(ctx, c, rulesQuery, vars, &resp); err != nil {
			return nil, err
		}
		if err := gqlErrors(resp.Errors); err != nil {
			return nil, err
		}
		if resp.Data.Project == nil {
			return nil, &providers.APIError{Class: providers.ErrNotFound, Status: http.StatusOK, Code: "graphql",
				Message: "project not found or not visible to the token"}
		}
		rs := resp.Data.Project.Rules
		if rs == nil {
			return nil, &providers.APIError{Class: providers.ErrDenied, Status: http.StatusOK, Code: "graphql",
				Message: "containerProtectionTagRules is null (the token's role cannot read the project's tag rules; Maintainer is needed)"}
		}
		out = append(out, rs.Nodes...)
		if !rs.PageInfo.HasNextPage {
			return out, nil
		}
		if err := guard.Check(rs.PageInfo.EndCursor); err != nil {
			return nil, err
		}
		after = rs.PageInfo.EndCursor
	}
}

// Tags streams a repository's tags with their digests from the GraphQL
// tags connection (20 per page): REST's tag list carries no digest and
// would cost one call per tag.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.api()
	if err != nil {
		return err
	}
	h, _ := r.Handle.(handle)
	if h.RepoID == 0 {
		err := p.eachRepo(ctx, c, r.Scope, func(gr *gl.RegistryRepository) error {
			if gr.Path == r.Name {
				h = handle{ProjectID: gr.ProjectID, RepoID: gr.ID}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if h.RepoID == 0 {
			return fmt.Errorf("project %s: container repository %s not found", r.Scope, r.Name)
		}
	}
	id := fmt.Sprintf("gid://gitlab/ContainerRepository/%d", h.RepoID)
	after := ""
	var guard httpapi.LoopGuard
	for {
		var resp struct {
			Data struct {
				Repo *struct {
					Tags *struct {
						Nodes []struct {
							Name        string     `json:"name"`
							Digest      string     `json:"digest"`
							CreatedAt   *time.Time `json:"createdAt"`
							PublishedAt *time.Time `json:"publishedAt"`
						} `json:"nodes"`
						PageInfo pageInfo `json:"pageInfo"`
					} `json:"tags"`
				} `json:"containerRepository"`
			} `json:"data"`
			Errors []gqlError `json:"errors"`
		}
		vars := map[string]any{"id": id}
		if after != "" {
			vars["after"] = after
		}
		if err := p.graphql(ctx, c, tagsQuery, vars, &resp); err != nil {
			return fmt.Errorf("%s: list tags: %w", r.Name, err)
		}
		if err := gqlErrors(resp.Errors); err != nil {
			return fmt.Errorf("%s: list tags: %w", r.Name, err)
		}
		if resp.Data.Repo == nil || resp.Data.Repo.Tags == nil {
			return fmt.Errorf("%s: list tags: %w", r.Name, &providers.APIError{Class: providers.ErrNotFound, Status: http.StatusOK,
				Code: "graphql", Message: "container repository not found or not visible to the token"})
		}
		for _, t := range resp.Data.Repo.Tags.Nodes {
			tag := providers.Tag{Name: t.Name, Digest: t.Digest}
			switch {
			case t.PublishedAt != nil:
				tag.Pushed = *t.PublishedAt
			case t.CreatedAt != nil:
				tag.Pushed = *t.CreatedAt
			}
			if err := yield(tag); err != nil {
				return err
			}
		}
		pi := resp.Data.Repo.Tags.PageInfo
		if !pi.HasNextPage {
			return nil
		}
		if err := guard.Check(pi.EndCursor); err != nil {
			return err
		}
		after = pi.EndCursor
	}
}
