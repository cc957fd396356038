// Package dockerhub is the Docker Hub adapter: it lists the repositories of
// the configured namespaces through the documented /v2/namespaces/... API,
// reads each repository's immutable_tags_settings and fixes a repository by
// enabling immutable tags with the universal rule ".*".
//
// Authentication mints a short-lived bearer token with POST /v2/auth/token
// from a username + personal access token or an organisation name +
// organisation access token, both read from the environment variables the
// config names. The legacy /v2/repositories/... routes are never used: they
// reject organisation access tokens.
package dockerhub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// DefaultEndpoint is the Docker Hub API base URL.
const DefaultEndpoint = "https://hub.docker.com"

// Defaults for the per-provider rate settings. Hub limits API calls per
// minute without publishing the number; these keep a scan polite and the
// client rides out 429s anyway.
const (
	defaultRPS        = 5
	defaultConcurrent = 4
	pageSize          = 100
	// tokenLifetime is the documented access token lifetime, used when the
	// token's own claims cannot be read.
	tokenLifetime = 10 * time.Minute
)

// WarnPrivateVisibility is the warning code emitted when a namespace listing
// showed no private repository: the token may be unable to see them.
const WarnPrivateVisibility = "hub-private-visibility"

// Provider is one configured Docker Hub instance.
type Provider struct {
	name       string
	cfg        config.Provider
	namespaces []string
	opts       providers.Options
	client     *httpapi.Client
	auth       *httpapi.Bearer
	concurrent int
	uriHost    string
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Enforcer = (*Provider)(nil)
)

// New builds the adapter from its config entry. It makes no API call:
// credentials are read and a token minted when listing starts.
//
// The entry is one that config validated (Spec): namespaces and both
// credential variable names are set.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	rps, conc := p.Rate.RequestsPerSecond, p.Rate.MaxConcurrent
	if rps <= 0 {
		rps = defaultRPS
	}
	if conc <= 0 {
		conc = defaultConcurrent
	}
	pr := &Provider{name: p.Name, cfg: p, namespaces: s.Namespaces, opts: o, concurrent: conc, uriHost: "docker.io"}
	if p.Endpoint != "" {
		if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
			pr.uriHost = u.Host
		}
	}
	pr.auth = httpapi.NewBearer(pr.fetchToken, httpapi.BearerOptions{Now: o.Now})
	ho := httpapi.ProviderOptions(endpoint, p, o, o.Log(), pr.auth)
	ho.RequestsPerSecond, ho.MaxConcurrent = rps, conc
	c, err := httpapi.New(ho)
	if err != nil {
		return nil, err
	}
	pr.client = c
	return pr, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is providers.KindDockerHub.
func (p *Provider) Kind() providers.Kind { return providers.KindDockerHub }

func (p *Provider) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// credentials reads the identifier and secret from the environment.
func (p *Provider) credentials() (identifier, secret string, err error) {
	identifier = p.opts.Env(p.cfg.Credentials.UsernameEnv)
	secret = p.opts.Secret(p.cfg.Credentials.TokenEnv)
	switch {
	case identifier == "":
		return "", "", fmt.Errorf("environment variable %s (credentials.username_env) is empty", p.cfg.Credentials.UsernameEnv)
	case secret == "":
		return "", "", fmt.Errorf("environment variable %s (credentials.token_env) is empty", p.cfg.Credentials.TokenEnv)
	}
	return identifier, secret, nil
}

// fetchToken mints an access token. Its lifetime is read from the JWT's
// iat/exp claims (a difference, so clock skew between us and Hub does not
// matter) and measured on our clock; without readable claims the
// documented 10 minutes is assumed.
func (p *Provider) fetchToken(ctx context.Context) (string, time.Time, error) {
	id, secret, err := p.credentials()
	if err != nil {
		return "", time.Time{}, err
	}
	issued := p.now()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	resp, err := p.client.Do(ctx, httpapi.Request{
		Method: http.MethodPost, Path: "/v2/auth/token", NoAuth: true, Idempotent: true,
		Body: map[string]string{"identifier": id, "secret": secret},
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("docker hub sign-in as %s: %w", id, err)
	}
	if err := resp.JSON(&out); err != nil {
		return "", time.Time{}, err
	}
	return out.AccessToken, issued.Add(jwtLifetime(out.AccessToken)), nil
}

func jwtLifetime(tok string) time.Duration {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenLifetime
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenLifetime
	}
	var c struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Iat == 0 || c.Exp <= c.Iat {
		return tokenLifetime
	}
	d := time.Duration(c.Exp-c.Iat) * time.Second
	if d > 24*time.Hour {
		return tokenLifetime
	}
	return d
}

// Scopes returns one scope per configured namespace (config requires at
// least one). It makes no API call.
func (p *Provider) Scopes(context.Context) ([]providers.Scope, error) {
	out := make([]providers.Scope, 0, len(p.namespaces))
	for _, ns := range p.namespaces {
		out = append(out, providers.Scope{Provider: p.name, Kind: providers.KindDockerHub, Name: ns})
	}
	return out, nil
}

// Ref is the target of a Docker Hub change (providers.Change.Ref): one
// repository and the tag patterns its rules may leave mutable. Apply
// derives the rule to write from Allowed again, so nothing looser than
// planned is ever written.
type Ref struct {
	Namespace  string   `json:"namespace"`
	Repository string   `json:"repository"`
	Allowed    []string `json:"allowed,omitempty"`
}

func repoPath(ns, name string) string {
	return "/v2/namespaces/" + url.PathEscape(ns) + "/repositories/" + url.PathEscape(name)
}

func (p *Provider) uri(ns, name string) string { return p.uriHost + "/" + ns + "/" + name }
