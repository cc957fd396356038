// Package artifactory is the JFrog Artifactory adapter for Docker local
// repositories.
//
// Artifactory has no tag-immutability switch: overwriting an existing tag
// needs the Delete/Overwrite permission ("delete" in a permission target;
// "manage" is counted too, since it lets its holder grant it). The audit
// reads every permission target once (GET /api/v2/security/permissions),
// finds who holds Delete/Overwrite on each Docker local repository and its
// images (include/exclude patterns applied), and reports partial naming
// them, or immutable when only administrators can overwrite. Administrators
// always can: that is not something a permission target can take away.
//
// A fix is a plan only: it prints the exact permission change and never
// applies it, because who may delete or overwrite artifacts is an
// organisation's decision that also covers far more than tags.
//
// Images and tags come from the Docker API under
// /artifactory/api/docker/<repo>/v2/ (catalog, tags/list with n/last, and a
// HEAD per tag for the manifest digest, with the Accept types that return a
// multi-arch index's own digest).
package artifactory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Kind is the registry kind this adapter serves (config and report contract).
const Kind = providers.KindArtifactory

const (
	apiPrefix = "/artifactory/api"
	pageSize  = 100
)

// manifestAccept makes a tag HEAD return the digest of what the tag names:
// an index for a multi-arch image, never one platform's manifest.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

// Provider is one configured Artifactory instance.
type Provider struct {
	name string
	cfg  config.Provider
	opts providers.Options
	log  *slog.Logger
	base string
	host string

	// only, when set, limits the audit to these repositories.
	only []string

	tweak func(*httpapi.Options)
	api   httpapi.Lazy

	adminMu sync.Mutex
	admins  map[string]*adminLookup // "user:x" / "group:y"
}

// adminLookup is one principal's lookup, made once however many scopes
// ask for it at the same time.
type adminLookup struct {
	once sync.Once
	info adminInfo
}

type adminInfo struct {
	admin    bool
	known    bool
	everyone bool
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.Enforcer  = (*Provider)(nil)
	_ providers.TagLister = (*Provider)(nil)
)

// New builds the adapter; it makes no API call.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	return newProvider(p, o, nil)
}

func newProvider(p config.Provider, o providers.Options, tweak func(*httpapi.Options)) (*Provider, error) {
	if p.Endpoint == "" {
		return nil, errors.New("artifactory: endpoint is required (the platform URL, e.g. https://acme.jfrog.io)")
	}
	c := p.Credentials
	if c.TokenEnv == "" && (c.UsernameEnv == "" || c.PasswordEnv == "") {
		return nil, errors.New("artifactory: credentials.token_env (an access token) or credentials.username_env and password_env must name the variables holding the credentials")
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("artifactory: endpoint %q must be an http(s) URL", p.Endpoint)
	}
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(p.Endpoint, "/"), "/artifactory")
	return &Provider{name: p.Name, cfg: p, opts: o, base: base, host: u.Host, tweak: tweak, only: s.Repositories,
		log: o.Log().With("provider", p.Name, "kind", Kind), admins: map[string]*adminLookup{}}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "artifactory".
func (p *Provider) Kind() providers.Kind { return Kind }

func (p *Provider) client() (*httpapi.Client, error) {
	return p.api.Client("artifactory "+p.name, func() (httpapi.Options, error) {
		c := p.cfg.Credentials
		var auth httpapi.Authenticator
		if c.TokenEnv != "" {
			tok := p.opts.Secret(c.TokenEnv)
			if tok == "" {
				return httpapi.Options{}, fmt.Errorf("environment variable %s (credentials.token_env) is not set", c.TokenEnv)
			}
			auth = httpapi.StaticBearer(tok)
		} else {
			user, pass := p.opts.Env(c.UsernameEnv), p.opts.Secret(c.PasswordEnv)
			if user == "" || pass == "" {
				return httpapi.Options{}, fmt.Errorf("environment variables %s and %s (credentials.username_env, password_env) must both be set", c.UsernameEnv, c.PasswordEnv)
			}
			auth = httpapi.Basic{Username: user, Password: pass}
		}
		o := httpapi.ProviderOptions(p.base, p.cfg, p.opts, p.log, auth)
		if p.tweak != nil {
			p.tweak(&o)
		}
		return o, nil
	})
}

// ---- permission targets ----

// target is a permission target's repository part, reduced to what the
// audit needs: where it applies and who can overwrite there.
type target struct {
	Name     string
	Repos    []string
	Include  []string
	Exclude  []string
	Users    map[string][]string
	Groups   map[string][]string
	overrule bool // holds delete or manage for someone
}

// permissionTarget is the v2 PermissionTarget JSON.
type permissionTarget struct {
	Name string `json:"name"`
	Repo *struct {
		Include []string `json:"include-patterns"`
		Exclude []string `json:"exclude-patterns"`
		Repos   []string `json:"repositories"`
		Actions struct {
			Users  map[string][]string `json:"users"`
			Groups map[string][]string `json:"groups"`
		} `json:"actions"`
	} `json:"repo"`
}

// overwrites reports whether an action list lets its holder overwrite.
func overwrites(actions []string) bool {
	return slices.ContainsFunc(actions, func(a string) bool {
		a = strings.ToLower(a)
		return a == "delete" || a == "d" || a == "manage" || a == "m"
	})
}

// permissions reads every permission target with Delete/Overwrite or Manage
// for someone. Targets without either are dropped at once, so memory grows
// only with the targets that matter.
func (p *Provider) permissions(ctx context.Context, c *httpapi.Client) ([]target, error) {
	var list []struct {
		Name string `json:"name"`
	}
	if err := c.DoJSON(ctx, http.MethodGet, apiPrefix+"/v2/security/permissions", nil, &list); err != nil {
		return nil, fmt.Errorf("list permission targets: %w", err)
	}
	var out []target
	for _, e := range list {
		var pt permissionTarget
		if err := c.DoJSON(ctx, http.MethodGet, apiPrefix+"/v2/security/permissions/"+url.PathEscape(e.Name), nil, &pt); err != nil {
			return nil, fmt.Errorf("permission target %s: %w", e.Name, err)
		}
		if pt.Repo == nil {
			continue
		}
		t := target{Name: pt.Name, Repos: pt.Repo.Repos, Include: pt.Repo.Include, Exclude: pt.Repo.Exclude,
			Users: map[string][]string{}, Groups: map[string][]string{}}
		for u, a := range pt.Repo.Actions.Users {
			if overwrites(a) {
				t.Users[u], t.overrule = a, true
			}
		}
		for g, a := range pt.Repo.Actions.Groups {
			if overwrites(a) {
				t.Groups[g], t.overrule = a, true
			}
		}
		if t.overrule {
			out = append(out, t)
		}
	}
	return out, nil
}

// covers reports whether a target applies to a local repository.
func (t target) covers(repo string) bool {
	for _, r := range t.Repos {
		switch strings.ToUpper(r) {
		case "ANY", "ANY LOCAL":
			return true
		}
		if r == repo {
			return true
		}
	}
	return false
}

// coversImage applies the target's Ant-style include/exclude patterns to
// the paths of an image's tags (<image>/<tag>/manifest.json).
func (t target) coversImage(image string) bool {
	probe := image + "/any-tag/manifest.json"
	inc := t.Include
	if len(inc) == 0 {
		inc = []string{"**"}
	}
	in := false
	for _, p := range inc {
		if p == "" || p == "**" || antMatch(p, probe) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, p := range t.Exclude {
		if p != "" && antMatch(p, probe) {
			return false
		}
	}
	return true
}

func antMatch(pattern, path string) bool {
	ok, err := doublestar.Match(pattern, path)
	if err == nil && ok {
		return true
	}
	// "app/" in Ant means "app/**".
	if strings.HasSuffix(pattern, "/") {
		ok, err = doublestar.Match(pattern+"**", path)
		return err == nil && ok
	}
	return false
}

// lookup reads whether a user or group has administrator rights and
// whether it stands for everyone (the anonymous user, or a group every new
// user joins automatically), caching answers. An answer that cannot be
// read counts as "an ordinary principal": a holder is then listed as such,
// never hidden.
func (p *Provider) lookup(ctx context.Context, c *httpapi.Client, kind, name string) adminInfo {
	key := kind + ":" + name
	// Scopes are read concurrently and share principals: a plain cache let
	// each scope that missed it look the same group up again.
	p.adminMu.Lock()
	l := p.admins[key]
	if l == nil {
		l = &adminLookup{}
		p.admins[key] = l
	}
	p.adminMu.Unlock()
	l.once.Do(func() { l.info = p.fetchAdmin(ctx, c, kind, name) })
	return l.info
}

func (p *Provider) fetchAdmin(ctx context.Context, c *httpapi.Client, kind, name string) adminInfo {
	key := kind + ":" + name
	var info struct {
		Admin           bool `json:"admin"`
		AdminPrivileges bool `json:"adminPrivileges"`
		AutoJoin        bool `json:"autoJoin"`
	}
	path := apiPrefix + "/security/users/" + url.PathEscape(name)
	if kind == "group" {
		path = apiPrefix + "/security/groups/" + url.PathEscape(name)
	}
	err := c.DoJSON(ctx, http.MethodGet, path, nil, &info)
	a := adminInfo{admin: err == nil && (info.Admin || info.AdminPrivileges), known: err == nil,
		everyone: (kind == "user" && name == "anonymous") || (err == nil && kind == "group" && info.AutoJoin)}
	if err != nil {
		p.log.Debug("artifactory principal lookup failed; counted as an ordinary principal", "principal", key, "err", err)
	}
	return a
}

// holder is one principal that can overwrite tags, and through which target.
type holder struct {
	Kind    string // user or group
	Name    string
	Target  string
	Actions []string
	// Everyone: the anonymous user or an auto-join group.
	Everyone bool
}

func (h holder) String() string { return h.Kind + ":" + h.Name + " (" + h.Target + ")" }

// holders lists the non-administrator principals that can overwrite tags
// of an image of repo.
func (p *Provider) holders(ctx context.Context, c *httpapi.Client, ts []target, repo, image string) []holder {
	var out []holder
	for _, t := range ts {
		if !t.covers(repo) || (image != "" && !t.coversImage(image)) {
			continue
		}
		for _, u := range sortedKeys(t.Users) {
			if a := p.lookup(ctx, c, "user", u); !a.admin {
				out = append(out, holder{Kind: "user", Name: u, Target: t.Name, Actions: t.Users[u], Everyone: a.everyone})
			}
		}
		for _, g := range sortedKeys(t.Groups) {
			if a := p.lookup(ctx, c, "group", g); !a.admin {
				out = append(out, holder{Kind: "group", Name: g, Target: t.Name, Actions: t.Groups[g], Everyone: a.everyone})
			}
		}
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func evaluate(hs []holder) providers.Immutability {
	if len(hs) == 0 {
		return providers.Immutability{Mode: providers.ModeImmutable, Native: "Delete/Overwrite held by administrators only",
			Note: "administrators can always overwrite tags"}
	}
	names := make([]string, 0, len(hs))
	var everyone []string
	for _, h := range hs {
		names = append(names, h.String())
		if h.Everyone {
			everyone = append(everyone, h.String())
		}
	}
	if len(everyone) > 0 {
		return providers.Immutability{Mode: providers.ModeMutable, Native: "Delete/Overwrite held by " + strings.Join(names, ", "),
			Note: strings.Join(everyone, ", ") + " stands for every user (anonymous, or a group every new user joins): anyone can overwrite any tag",
			Remediation: "remove Delete/Overwrite (and Manage) on this repository from " + strings.Join(names, ", ") +
				": immutag fix prints the exact permission-target change and never applies it; until then record tags with " +
				"immutag audit --record and gate on overwrites with --fail-on-overwrite"}
	}
	return providers.Immutability{Mode: providers.ModePartial, Native: "Delete/Overwrite held by " + strings.Join(names, ", "),
		MutablePatterns: []string{"*"},
		Note:            "these principals (and administrators) can overwrite any tag; everyone else cannot",
		Remediation: "remove Delete/Overwrite (and Manage) on this repository from " + strings.Join(names, ", ") +
			": immutag fix prints the exact permission-target change and never applies it; until then record tags with " +
			"immutag audit --record and gate on overwrites with --fail-on-overwrite"}
}

// ---- listing ----

// scopeHandle carries the permission targets read once by Scopes.
type scopeHandle struct {
	targets []target
	err     error
}

// handle is the Repository.Handle.
type handle struct {
	holders []holder
}

// Scopes are the Docker local repositories. The permission targets are
// read once here and shared by every scope; if they cannot be read, each
// scope fails with that error (never "no holders", which would read as
// immutable).
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	var repos []struct {
		Key         string `json:"key"`
		Type        string `json:"type"`
		PackageType string `json:"packageType"`
	}
	q := url.Values{"type": {"local"}, "packageType": {"docker"}}
	resp, err := c.Do(ctx, httpapi.Request{Path: apiPrefix + "/repositories", Query: q})
	if err != nil {
		return nil, fmt.Errorf("artifactory %s: list repositories: %w", p.name, err)
	}
	if err := resp.JSON(&repos); err != nil {
		return nil, err
	}
	ts, terr := p.permissions(ctx, c)
	h := &scopeHandle{targets: ts, err: terr}
	var out []providers.Scope
	seen := map[string]bool{}
	for _, r := range repos {
		// The filter is applied again: packageType needs Artifactory 6.2.
		if !strings.EqualFold(r.PackageType, "docker") || !strings.EqualFold(r.Type, "local") {
			continue
		}
		if len(p.only) > 0 && !slices.Contains(p.only, r.Key) {
			continue
		}
		seen[r.Key] = true
		out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: r.Key, Handle: h})
	}
	// A configured repository that is not listed is still a scope: reading
	// it fails and says why, instead of silently auditing less.
	for _, key := range p.only {
		if !seen[key] {
			out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: key, Handle: h})
		}
	}
	return out, nil
}

func dockerPath(repo string) string { return apiPrefix + "/docker/" + url.PathEscape(repo) + "/v2" }

// Repositories streams the repository's images with who can overwrite
// their tags.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	h, _ := s.Handle.(*scopeHandle)
	if h == nil {
		ts, err := p.permissions(ctx, c)
		h = &scopeHandle{targets: ts, err: err}
	}
	if h.err != nil {
		return fmt.Errorf("repository %s: who holds Delete/Overwrite cannot be read (an admin token or Manage on the permission targets is needed): %w", s.Name, h.err)
	}
	return p.pages(ctx, c, dockerPath(s.Name)+"/_catalog", func(body []byte, r *httpapi.Response) error {
		var cat struct {
			Repositories *[]string `json:"repositories"`
		}
		if err := r.JSON(&cat); err != nil {
			return err
		}
		if cat.Repositories == nil {
			return fmt.Errorf("repository %s: catalog answer has no \"repositories\"", s.Name)
		}
		for _, img := range *cat.Repositories {
			hs := p.holders(ctx, c, h.targets, s.Name, img)
			if err := e.Repository(providers.Repository{Provider: p.name, Kind: Kind, Scope: s.Name, Name: img,
				URI: p.host + "/" + s.Name + "/" + img, Immutability: evaluate(hs), Handle: handle{holders: hs}}); err != nil {
				return err
			}
		}
		return nil
	})
}

// pages walks a Docker API listing with n and last, taking last from the
// Link header and building the next request on the same path.
func (p *Provider) pages(ctx context.Context, c *httpapi.Client, path string, fn func([]byte, *httpapi.Response) error) error {
	q := url.Values{"n": {strconv.Itoa(pageSize)}}
	var guard httpapi.LoopGuard
	for {
		resp, err := c.Do(ctx, httpapi.Request{Path: path, Query: q})
		if err != nil {
			return err
		}
		if err := fn(resp.Body, resp); err != nil {
			return err
		}
		last, err := c.NextLast(resp)
		if err != nil || last == "" {
			return err
		}
		if err := guard.Check(last); err != nil {
			return err
		}
		q = url.Values{"n": {strconv.Itoa(pageSize)}, "last": {last}}
	}
}

// Tags lists an image's tags (paged) and HEADs each manifest for its
// digest: Artifactory's tag list carries no digest.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	base := dockerPath(r.Scope) + "/" + escapeImage(r.Name)
	return p.pages(ctx, c, base+"/tags/list", func(_ []byte, resp *httpapi.Response) error {
		var tl struct {
			Tags *[]string `json:"tags"`
		}
		if err := resp.JSON(&tl); err != nil {
			return err
		}
		if tl.Tags == nil {
			return fmt.Errorf("%s/%s: tag list answer has no \"tags\"", r.Scope, r.Name)
		}
		for _, t := range *tl.Tags {
			h, err := c.Do(ctx, httpapi.Request{Method: http.MethodHead, Path: base + "/manifests/" + url.PathEscape(t),
				Header: http.Header{"Accept": {manifestAccept}}})
			if err != nil {
				return fmt.Errorf("%s/%s:%s: %w", r.Scope, r.Name, t, err)
			}
			d := h.Header.Get("Docker-Content-Digest")
			if d == "" {
				return fmt.Errorf("%s/%s:%s: manifest answer has no Docker-Content-Digest", r.Scope, r.Name, t)
			}
			if err := yield(providers.Tag{Name: t, Digest: d}); err != nil {
				return err
			}
		}
		return nil
	})
}

func escapeImage(name string) string {
	parts := strings.Split(name, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
