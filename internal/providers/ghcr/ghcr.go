// Package ghcr is the GitHub Container Registry (ghcr.io) adapter.
//
// ghcr.io has no tag-immutability setting (GitHub: "Docker tags are
// mutable"), so every package is reported `unsupported` with a remediation
// pointing at the tag ledger and the CI linter. What the adapter reads is
// the GitHub Packages REST API (API version 2022-11-28), never the registry
// endpoint: an owner's container packages and each package's versions,
// where a version's name is its manifest digest and metadata.container.tags
// lists the tags on it, which feeds the ledger with one call per 100
// versions.
//
// Calls go through the shared httpapi client (retry, Retry-After, Link
// paging with the same-origin and loop guards). GitHub answers a spent
// primary limit, and secondary limits, with 403 or 429; rateLimitTransport
// tells those 403s from denials so they are retried after
// Retry-After or X-RateLimit-Reset like any 429.
package ghcr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Kind is the registry kind this package implements.
const Kind = "ghcr"

// DefaultEndpoint is GitHub's REST API root. GitHub Enterprise Server
// serves it under https://HOST/api/v3.
const DefaultEndpoint = "https://api.github.com"

// Registry is the registry host in repository URIs on github.com.
const Registry = "ghcr.io"

// APIVersion is the REST API version the adapter is written against.
const APIVersion = "2022-11-28"

// PerPage is the largest page the Packages API serves.
const PerPage = 100

// defaultRequestsPerSecond keeps a run under GitHub's secondary limit of
// 900 points a minute for REST reads (one point per GET).
const defaultRequestsPerSecond = 10

// Native is the value shown as the native setting.
const Native = "GitHub Packages: no setting"

// Note says why the mode is unsupported.
const Note = "GitHub Container Registry has no tag-immutability setting: anyone with write access to the package can move a tag to another image"

// Remediation says what a user can do about a ghcr package.
const Remediation = "record tags with immutag audit --record and gate on overwrites with --fail-on-overwrite " +
	"(immutag history --moved lists them); run immutag lint on the workflows that push to ghcr.io; " +
	"limit write access to the package (package settings > Manage access) to the release workflow"

// digestRE is the shape of a container version's name.
var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Provider is one configured GitHub (or GitHub Enterprise Server) instance.
type Provider struct {
	name     string
	owners   []string
	tokenEnv string
	cfg      config.Provider
	opts     providers.Options
	log      *slog.Logger
	base     string
	registry string

	// tweak adjusts client options (tests shorten backoffs).
	tweak func(*httpapi.Options)
	api   httpapi.Lazy

	// kinds caches each owner's type (organisation or user); it holds one
	// entry per configured owner at most.
	kinds sync.Map
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.TagLister = (*Provider)(nil)
)

// New builds the adapter; it makes no API call and reads no credential.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	return newProvider(p, o, nil)
}

func newProvider(p config.Provider, o providers.Options, tweak func(*httpapi.Options)) (*Provider, error) {
	if p.Credentials.TokenEnv == "" {
		return nil, errors.New("ghcr: credentials.token_env must name the variable holding a classic personal access token with read:packages")
	}
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	if len(s.Namespaces) == 0 {
		return nil, errors.New("ghcr: namespaces is empty: list the organisations and users whose packages to audit")
	}
	base := strings.TrimSuffix(p.Endpoint, "/")
	if base == "" {
		base = DefaultEndpoint
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("ghcr: endpoint %q must be an http(s) URL such as %s", p.Endpoint, DefaultEndpoint)
	}
	reg := Registry
	if base != DefaultEndpoint {
		// GitHub Enterprise Server serves containers at containers.HOST;
		// emulators and proxies have no registry of their own.
		reg = u.Host
		if strings.HasSuffix(u.Path, "/api/v3") {
			reg = "containers." + u.Hostname()
		}
	}
	return &Provider{
		name: p.Name, owners: s.Namespaces, tokenEnv: p.Credentials.TokenEnv, cfg: p, opts: o,
		log:  o.Log().With("provider", p.Name, "kind", Kind),
		base: base, registry: reg, tweak: tweak,
	}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "ghcr".
func (p *Provider) Kind() providers.Kind { return Kind }

func (p *Provider) client() (*httpapi.Client, error) {
	return p.api.Client("ghcr "+p.name, func() (httpapi.Options, error) {
		tok := p.opts.Secret(p.tokenEnv)
		if tok == "" {
			return httpapi.Options{}, fmt.Errorf("environment variable %s (credentials.token_env) is empty", p.tokenEnv)
		}
		o := httpapi.ProviderOptions(p.base, p.cfg, p.opts, p.log, httpapi.StaticBearer(tok))
		if o.RequestsPerSecond == 0 {
			o.RequestsPerSecond = defaultRequestsPerSecond
		}
		base := http.RoundTripper(nil)
		if o.HTTPClient != nil {
			base = o.HTTPClient.Transport
		}
		rt, err := httpapi.Transport(&http.Client{Transport: base}, p.cfg.TLS)
		if err != nil {
			return httpapi.Options{}, err
		}
		hc := &http.Client{Transport: &rateLimitTransport{base: rt}}
		if o.HTTPClient != nil {
			cp := *o.HTTPClient
			cp.Transport = hc.Transport
			hc = &cp
		}
		o.HTTPClient = hc
		o.TLS = config.TLS{} // applied above
		if p.tweak != nil {
			p.tweak(&o)
		}
		return o, nil
	})
}

// headers are sent on every call, as GitHub asks.
var headers = http.Header{"Accept": {"application/vnd.github+json"}, "X-Github-Api-Version": {APIVersion}}

// Scopes are the configured owners.
func (p *Provider) Scopes(context.Context) ([]providers.Scope, error) {
	out := make([]providers.Scope, 0, len(p.owners))
	for _, o := range p.owners {
		out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: o})
	}
	return out, nil
}

// ownerPath is /orgs/{org} or /users/{user}: the Packages API has one
// route per owner type, told apart by GET /users/{owner}'s type.
func (p *Provider) ownerPath(ctx context.Context, c *httpapi.Client, owner string) (string, error) {
	if v, ok := p.kinds.Load(owner); ok {
		return v.(string), nil
	}
	var u struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	}
	resp, err := c.Do(ctx, httpapi.Request{Path: "/users/" + url.PathEscape(owner), Header: headers})
	if err != nil {
		return "", fmt.Errorf("owner %s: look up: %w", owner, err)
	}
	if err := resp.JSON(&u); err != nil {
		return "", fmt.Errorf("owner %s: %w", owner, err)
	}
	var path string
	switch u.Type {
	case "Organization":
		path = "/orgs/" + url.PathEscape(owner)
	case "User":
		path = "/users/" + url.PathEscape(owner)
	default:
		return "", fmt.Errorf("owner %s: GET /users/%s answered type %q, want Organization or User", owner, owner, u.Type)
	}
	p.kinds.Store(owner, path)
	return path, nil
}

type pkg struct {
	Name         string `json:"name"`
	PackageType  string `json:"package_type"`
	Visibility   string `json:"visibility"`
	VersionCount *int   `json:"version_count"`
}

// Repositories lists an owner's container packages (Link paging, 100 a page).
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	owner := s.Name
	op, err := p.ownerPath(ctx, c, owner)
	if err != nil {
		return err
	}
	q := url.Values{"package_type": {"container"}, "per_page": {strconv.Itoa(PerPage)}}
	check := &providers.EntryCheck{Provider: p.name, Kind: Kind, Scope: owner}
	return c.Pages(ctx, httpapi.Request{Path: op + "/packages", Query: q, Header: headers}, func(ctx context.Context, page *httpapi.Response) (string, error) {
		var pkgs []*pkg
		if err := page.JSON(&pkgs); err != nil {
			return "", fmt.Errorf("owner %s: list packages: %w", owner, err)
		}
		if pkgs == nil {
			return "", fmt.Errorf("owner %s: list packages: the answer is not a list of packages", owner)
		}
		for _, pk := range pkgs {
			n := ""
			if pk != nil {
				n = pk.Name
			}
			// A null entry or a name no package can have is reported as an
			// error under a displayable name and never used in a call.
			if bad, ok := check.Invalid(n); ok {
				if err := e.Repository(bad); err != nil {
					return "", err
				}
				continue
			}
			if pk.PackageType != "" && pk.PackageType != "container" {
				continue
			}
			if err := e.Repository(providers.Repository{
				Provider: p.name, Kind: Kind, Scope: owner, Name: pk.Name,
				URI: p.registry + "/" + owner + "/" + pk.Name,
				Immutability: providers.Immutability{
					Mode: providers.ModeUnsupported, Native: Native, Note: Note, Remediation: Remediation,
				},
			}); err != nil {
				return "", err
			}
		}
		return httpapi.NextLink(page.Header), nil
	})
}

type version struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Metadata  *struct {
		PackageType string `json:"package_type"`
		Container   *struct {
			Tags []string `json:"tags"`
		} `json:"container"`
	} `json:"metadata"`
}

// Tags streams every tag of a package from its versions: one call per 100
// versions, no call per tag. A version without tags (an untagged image, a
// platform manifest of a multi-arch index) yields nothing; a tagged index's
// own version carries the tag, so the digest is the index's. Pushed is the
// version's updated_at (its created_at when absent).
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	op, err := p.ownerPath(ctx, c, r.Scope)
	if err != nil {
		return err
	}
	path := op + "/packages/container/" + url.PathEscape(r.Name) + "/versions"
	q := url.Values{"state": {"active"}, "per_page": {strconv.Itoa(PerPage)}}
	return c.Pages(ctx, httpapi.Request{Path: path, Query: q, Header: headers}, func(ctx context.Context, page *httpapi.Response) (string, error) {
		var vs []*version
		if err := page.JSON(&vs); err != nil {
			return "", fmt.Errorf("package %s/%s: list versions: %w", r.Scope, r.Name, err)
		}
		if vs == nil {
			return "", fmt.Errorf("package %s/%s: list versions: the answer is not a list of versions", r.Scope, r.Name)
		}
		for _, v := range vs {
			if v == nil || v.Metadata == nil || v.Metadata.Container == nil {
				return "", fmt.Errorf("package %s/%s: a version has no metadata.container (not a container package version?)", r.Scope, r.Name)
			}
			tags := v.Metadata.Container.Tags
			if len(tags) == 0 {
				continue
			}
			if !digestRE.MatchString(v.Name) {
				return "", fmt.Errorf("package %s/%s: version %d: name %q is not a sha256 digest", r.Scope, r.Name, v.ID, v.Name)
			}
			pushed := v.UpdatedAt
			if pushed.IsZero() {
				pushed = v.CreatedAt
			}
			for _, t := range tags {
				if err := yield(providers.Tag{Name: t, Digest: v.Name, Pushed: pushed.UTC()}); err != nil {
					return "", err
				}
			}
		}
		return httpapi.NextLink(page.Header), nil
	})
}

// rateLimitTransport turns GitHub's rate-limit 403s into 429s so the shared
// client retries them (honouring Retry-After, or X-RateLimit-Reset when
// X-RateLimit-Remaining is 0) instead of reporting "access denied". GitHub
// documents both 403 and 429 for a spent primary limit and for secondary
// limits; a 403 that is neither is a real denial and passes unchanged.
type rateLimitTransport struct{ base http.RoundTripper }

// maxErrorBody bounds how much of a 403 body is read to classify it.
const maxErrorBody = 64 << 10

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		secondaryWait(resp.Header)
		return resp, nil
	}
	if resp.StatusCode != http.StatusForbidden {
		return resp, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rateLimited(resp.Header, body) {
		resp.StatusCode = http.StatusTooManyRequests
		resp.Status = "429 Too Many Requests (GitHub answered 403: rate limit)"
		secondaryWait(resp.Header)
	}
	return resp, nil
}

// secondaryWait: GitHub asks to wait at least a minute after a secondary
// limit that names no time (no Retry-After, X-RateLimit-Remaining not 0),
// and retrying sooner can get the token banned; the shared client's own
// backoff is far shorter, so the minute is written in as Retry-After.
func secondaryWait(h http.Header) {
	if h.Get("Retry-After") == "" && strings.TrimSpace(h.Get("X-RateLimit-Remaining")) != "0" {
		h.Set("Retry-After", "60")
	}
}

func rateLimited(h http.Header, body []byte) bool {
	if strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0" || h.Get("Retry-After") != "" {
		return true
	}
	b := strings.ToLower(string(body))
	return strings.Contains(b, "rate limit")
}
