// Package acr is the Azure Container Registry adapter.
//
// ACR has no repository- or registry-level tag immutability, only per-tag
// locks (the tag's changeableAttributes writeEnabled=false). The audit
// therefore counts locked tags per repository from the tag listing, and the
// fix is a loop that locks every unlocked tag under the registry's write
// rate limit. Tags pushed later start unlocked, so "immutable" here means
// "every tag present at the last sweep is locked".
//
// The data plane is reached with the official azcontainerregistry SDK;
// registries can also be discovered per subscription with
// armcontainerregistry, which also tells the SKU (and so the write limit).
package acr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Defaults.
const (
	defaultPageSize      = 100
	defaultMaxConcurrent = 8
)

// Note is attached to every ACR repository: a lock sweep never covers the future.
const Note = "ACR has no repository-level tag immutability: tags pushed later start unlocked until the next sweep or a push webhook locks them"

// dataClient is the part of azcontainerregistry.Client the adapter uses.
type dataClient interface {
	NewListRepositoriesPager(o *azcontainerregistry.ClientListRepositoriesOptions) *runtime.Pager[azcontainerregistry.ClientListRepositoriesResponse]
	NewListTagsPager(name string, o *azcontainerregistry.ClientListTagsOptions) *runtime.Pager[azcontainerregistry.ClientListTagsResponse]
	UpdateTagProperties(ctx context.Context, name, tag string, o *azcontainerregistry.ClientUpdateTagPropertiesOptions) (azcontainerregistry.ClientUpdateTagPropertiesResponse, error)
	GetTagProperties(ctx context.Context, name, tag string, o *azcontainerregistry.ClientGetTagPropertiesOptions) (azcontainerregistry.ClientGetTagPropertiesResponse, error)
}

// registryLister is the part of armcontainerregistry.RegistriesClient the
// adapter uses.
type registryLister interface {
	NewListPager(o *armcontainerregistry.RegistriesClientListOptions) *runtime.Pager[armcontainerregistry.RegistriesClientListResponse]
}

// Provider is one configured ACR instance (a set of registries).
type Provider struct {
	cfg  config.Provider
	set  *Settings
	opts providers.Options
	log  *slog.Logger

	pageSize      int32
	maxConcurrent int
	retry         policy.RetryOptions
	throttleWaits int // extra lock attempts after azcore gave up on a 429

	// Hooks for tests; production values are set by New.
	newCredential func() (azcore.TokenCredential, error)
	newLister     func(subscription string, cred azcore.TokenCredential) (registryLister, error)

	mu       sync.Mutex
	initErr  error
	inited   bool
	hc       *http.Client
	dataCred azcore.TokenCredential // nil with username/password
	armCred  azcore.TokenCredential
	user     string
	pass     string
	regs     map[string]*registry // by lower-case login server
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Enforcer = (*Provider)(nil)
)

// registry is one login server with its client, token cache and write
// limiter; it is the Handle of every Scope, Repository and Change.
type registry struct {
	login   string // login server as reported (host or host:port)
	base    string // https://login, or the configured endpoint
	limiter *httpapi.Limiter
	tokens  *tokenCache
	client  dataClient

	mu         sync.Mutex // guards the rate fields, filled in by discovery
	sku        string     // Basic, Standard, Premium; "" when unknown
	perSecond  float64
	rateSource string
}

// rate returns the write rate and where it comes from.
func (r *registry) rate() (perSecond float64, source string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.perSecond, r.rateSource
}

// setSKU records the SKU once known and retunes the write limiter.
func (r *registry) setSKU(sku string, cfg config.Rate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sku != "" || sku == "" {
		return
	}
	r.sku = sku
	r.perSecond, r.rateSource = writeRate(cfg, sku)
	r.limiter.SetRate(r.perSecond)
}

// failedScope is the Handle of a subscription whose registries could not be
// listed: the engine reports it as a scope error and goes on.
type failedScope struct{ err error }

// New builds the adapter from its config entry. It validates the entry and
// calls no API; credentials and network are touched on first use.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	set, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	if len(set.Registries) == 0 && len(set.Subscriptions) == 0 {
		return nil, errors.New("acr: set registries (login servers) and/or subscriptions")
	}
	if (p.Credentials.UsernameEnv == "") != (p.Credentials.PasswordEnv == "") {
		return nil, errors.New("acr: credentials.username_env and credentials.password_env must be set together")
	}
	if p.Credentials.TokenEnv != "" {
		return nil, errors.New("acr: credentials.token_env is not used by acr (use username_env/password_env for admin or token credentials, or neither for Entra ID)")
	}
	if p.Rate.RequestsPerSecond < 0 || p.Rate.MaxConcurrent < 0 {
		return nil, errors.New("acr: rate values must not be negative")
	}
	for i, r := range set.Registries {
		if normalizeLogin(r) == "" {
			return nil, fmt.Errorf("acr: registries[%d] %q is not a login server", i, r)
		}
	}
	if p.Endpoint != "" {
		if len(set.Registries) != 1 || len(set.Subscriptions) != 0 {
			return nil, errors.New("acr: endpoint overrides the URL of exactly one registry; list one registry and no subscriptions")
		}
		if _, err := endpointBase(p.Endpoint); err != nil {
			return nil, err
		}
	}
	pr := &Provider{
		cfg:           p,
		set:           set,
		opts:          o,
		log:           o.Log().With("provider", p.Name, "kind", providers.KindACR),
		pageSize:      defaultPageSize,
		maxConcurrent: p.Rate.MaxConcurrent,
		retry:         retryOptions(o.Retry),
		throttleWaits: 3,
		newCredential: func() (azcore.TokenCredential, error) { return azidentity.NewDefaultAzureCredential(nil) },
		regs:          map[string]*registry{},
	}
	if pr.maxConcurrent == 0 {
		pr.maxConcurrent = defaultMaxConcurrent
	}
	if o.Hermetic {
		// DefaultAzureCredential reads the process environment and
		// instance metadata, which a hermetic run keeps out of reach.
		pr.newCredential = func() (azcore.TokenCredential, error) {
			return nil, errors.New("hermetic run: name the credentials in credentials.username_env and password_env")
		}
	}
	pr.newLister = func(sub string, cred azcore.TokenCredential) (registryLister, error) {
		return armcontainerregistry.NewRegistriesClient(sub, cred, &arm.ClientOptions{ClientOptions: pr.clientOptions()})
	}
	return pr, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "acr".
func (p *Provider) Kind() providers.Kind { return providers.KindACR }

// retryOptions is azcore's retry policy for every client, with the timings
// tests shorten through t.
func retryOptions(t providers.RetryTuning) policy.RetryOptions {
	o := policy.RetryOptions{
		MaxRetries:    5,
		RetryDelay:    800 * time.Millisecond,
		MaxRetryDelay: 2 * time.Minute,
		ShouldRetry:   shouldRetry,
	}
	if t.MaxBackoff > 0 {
		// azcore's delay grows from RetryDelay and is capped at MaxRetryDelay.
		o.RetryDelay = min(o.RetryDelay, t.MaxBackoff)
		o.MaxRetryDelay = t.MaxBackoff
	}
	// Zero (the default) means no per-try limit. A try includes the
	// per-retry policies, the token fetch and the write limiter's wait.
	o.TryTimeout = t.AttemptTimeout
	return o
}

// shouldRetry replaces azcore's status check so that client errors such as
// a failed token exchange fail fast instead of backing off for seconds.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		// azcore stops by itself once the caller's context has ended, so a
		// context error here is a per-attempt timeout (TryTimeout or
		// http.Client.Timeout), as transient as a reset. Cancellation still
		// ends the loop.
		if errors.Is(err, context.Canceled) || errors.Is(err, httpapi.ErrRedirect) || errors.Is(err, httpapi.ErrBodyTooLarge) {
			return false
		}
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != http.StatusRequestTimeout && re.StatusCode != http.StatusTooManyRequests {
			return false
		}
		return true
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (p *Provider) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport:        p.hc,
		Retry:            p.retry,
		Telemetry:        policy.TelemetryOptions{ApplicationID: "immutag"},
		PerCallPolicies:  []policy.Policy{countRefusals{}},
		PerRetryPolicies: []policy.Policy{failFast{log: p.log}},
	}
}

func (p *Provider) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// init reads credentials and builds the HTTP client once.
func (p *Provider) init() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inited {
		return p.initErr
	}
	p.inited = true
	p.initErr = p.initLocked()
	return p.initErr
}

func (p *Provider) initLocked() error {
	hc, err := p.httpClient()
	if err != nil {
		return err
	}
	p.hc = hc
	c := p.cfg.Credentials
	if c.UsernameEnv != "" {
		p.user, p.pass = p.opts.Env(c.UsernameEnv), p.opts.Secret(c.PasswordEnv)
		if p.user == "" || p.pass == "" {
			return fmt.Errorf("acr: credentials: environment variables %s and %s must both be set", c.UsernameEnv, c.PasswordEnv)
		}
	}
	if c.UsernameEnv == "" || len(p.set.Subscriptions) > 0 {
		cred, err := p.newCredential()
		if err != nil {
			return fmt.Errorf("acr: azure credential: %w", err)
		}
		p.armCred = cred
		if c.UsernameEnv == "" {
			p.dataCred = cred
		}
	}
	return nil
}

// httpClient honours tls.ca_file and tls.insecure_skip_verify and keeps
// enough idle connections for the lock loop's workers. An injected client
// with a custom RoundTripper (tests, debug transport) is used as is.
func (p *Provider) httpClient() (*http.Client, error) {
	t := p.cfg.TLS
	custom := p.opts.HTTPClient
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if custom != nil && custom.Transport != nil {
		base, ok := custom.Transport.(*http.Transport)
		if !ok {
			if t.CAFile != "" || t.InsecureSkipVerify {
				p.log.Warn("custom HTTP transport in use: tls.ca_file and tls.insecure_skip_verify are not applied")
			}
			return httpapi.NoRedirectClient(custom, p.cfg.Name), nil
		}
		tr = base.Clone()
	}
	tr.MaxIdleConnsPerHost = 64
	tr.ForceAttemptHTTP2 = true
	if t.CAFile != "" || t.InsecureSkipVerify {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if tr.TLSClientConfig != nil {
			cfg = tr.TLSClientConfig.Clone()
		}
		if t.CAFile != "" {
			pool, err := httpapi.CAPool(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("acr: %w", err)
			}
			cfg.RootCAs = pool
		}
		cfg.InsecureSkipVerify = t.InsecureSkipVerify //nolint:gosec // explicit opt-in in config
		tr.TLSClientConfig = cfg
	}
	// The data-plane and ARM APIs never redirect: following one would send
	// the bearer or Basic credentials to whatever origin the answer names.
	hc := httpapi.NoRedirectClient(&http.Client{Transport: tr}, p.cfg.Name)
	if custom != nil {
		hc.Timeout = custom.Timeout
	}
	return hc, nil
}

// linkGuard stops a listing whose next link repeats: the SDK pager would
// fetch the same pages for ever and report their entries again. It keeps
// one entry per page.
type linkGuard map[string]struct{}

func (g linkGuard) check(link *string) error {
	if link == nil || *link == "" {
		return nil
	}
	if _, dup := g[*link]; dup {
		return fmt.Errorf("pagination loop: the registry repeated a next link after %d pages", len(g))
	}
	g[*link] = struct{}{}
	return nil
}

// normalizeLogin accepts "myreg.azurecr.io", "https://myreg.azurecr.io/" or
// "host:port" and returns the bare, lower-case login server.
func normalizeLogin(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "https://")
	s = strings.TrimRight(s, "/")
	if s == "" || strings.ContainsAny(s, "/ ?#@") {
		return ""
	}
	return strings.ToLower(s)
}

// endpointBase validates the endpoint override. Plain http is only allowed
// to loopback, since credentials travel with every call.
func endpointBase(e string) (string, error) {
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("acr: endpoint %q must be an absolute http(s) URL", e)
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("acr: endpoint %q: plain http is only allowed to loopback", e)
		}
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

// registryFor returns (creating on first use) the registry for a login
// server. sku may be "" (unknown); a later call with a known SKU fills it in.
func (p *Provider) registryFor(login, sku string) (*registry, error) {
	key := normalizeLogin(login)
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.regs[key]; r != nil {
		r.setSKU(sku, p.cfg.Rate)
		return r, nil
	}
	base := "https://" + key
	if p.cfg.Endpoint != "" {
		base, _ = endpointBase(p.cfg.Endpoint)
	}
	r := &registry{login: key, base: base, sku: sku}
	r.perSecond, r.rateSource = writeRate(p.cfg.Rate, sku)
	// Burst 1: writes evenly spaced, the budget being counted per minute.
	r.limiter = httpapi.NewLimiter(config.Rate{RequestsPerSecond: r.perSecond}, 1)
	var src tokenSource
	if p.dataCred == nil {
		src = &basicSource{base: base, user: p.user, pass: p.pass, hc: p.hc,
			envNames: p.cfg.Credentials.UsernameEnv + "/" + p.cfg.Credentials.PasswordEnv}
	} else {
		ac, err := azcontainerregistry.NewAuthenticationClient(base, &azcontainerregistry.AuthenticationClientOptions{ClientOptions: p.clientOptions()})
		if err != nil {
			return nil, fmt.Errorf("acr: registry %s: %w", key, err)
		}
		src = &aadSource{cred: p.dataCred, auth: ac}
	}
	r.tokens = newTokenCache(src, key)
	co := p.clientOptions()
	co.PerCallPolicies = append(co.PerCallPolicies, authMarker{})
	co.PerRetryPolicies = append(co.PerRetryPolicies, &writeLimiter{lim: r.limiter}, &tokenPolicy{tokens: r.tokens})
	c, err := azcontainerregistry.NewClient(base, nil, &azcontainerregistry.ClientOptions{ClientOptions: co})
	if err != nil {
		return nil, fmt.Errorf("acr: registry %s: %w", key, err)
	}
	r.client = c
	p.regs[key] = r
	return r, nil
}

// knownRegistry finds a registry for listing and Plan: from the handle, or among
// configured and discovered ones. It never contacts an unknown host.
func (p *Provider) knownRegistry(handle any, scope string) (*registry, error) {
	if r, ok := handle.(*registry); ok && r != nil {
		return r, nil
	}
	return p.registryAt(scope)
}

// registryAt returns the registry of a login server (a change's Ref): one
// the listing found, or one configured under registries.
func (p *Provider) registryAt(scope string) (*registry, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	key := normalizeLogin(scope)
	p.mu.Lock()
	r := p.regs[key]
	p.mu.Unlock()
	if r != nil {
		return r, nil
	}
	for _, c := range p.set.Registries {
		if normalizeLogin(c) == key {
			return p.registryFor(key, "")
		}
	}
	return nil, fmt.Errorf("acr: registry %q is not configured for provider %q", scope, p.cfg.Name)
}

// Scopes lists the configured registries, then the registries of every
// configured subscription (ARM). A subscription that cannot be listed
// becomes a scope whose listing fails, so the other scopes still run.
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	var out []providers.Scope
	seen := map[string]bool{}
	add := func(login, sku string) error {
		r, err := p.registryFor(login, sku)
		if err != nil {
			return err
		}
		if !seen[r.login] {
			seen[r.login] = true
			out = append(out, providers.Scope{Provider: p.cfg.Name, Kind: providers.KindACR, Name: r.login, Handle: r})
		}
		return nil
	}
	for _, l := range p.set.Registries {
		if err := add(l, ""); err != nil {
			return nil, err
		}
	}
	for _, sub := range p.set.Subscriptions {
		if err := p.discover(ctx, sub, add); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.log.Warn("list registries failed", "subscription", sub, "error", err)
			out = append(out, providers.Scope{Provider: p.cfg.Name, Kind: providers.KindACR,
				Name: "subscriptions/" + sub, Handle: failedScope{err}})
		}
	}
	return out, nil
}

func (p *Provider) discover(ctx context.Context, sub string, add func(login, sku string) error) error {
	l, err := p.newLister(sub, p.armCred)
	if err != nil {
		return fmt.Errorf("subscription %s: %w", sub, err)
	}
	pager := l.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("subscription %s: list registries: %w", sub, apiErr(err))
		}
		for _, r := range page.Value {
			if r == nil || r.Properties == nil || r.Properties.LoginServer == nil {
				continue
			}
			sku := ""
			if r.SKU != nil && r.SKU.Name != nil {
				sku = string(*r.SKU.Name)
			}
			if err := add(*r.Properties.LoginServer, sku); err != nil {
				return err
			}
		}
	}
	return nil
}

// Repositories streams every repository of one registry with its tag
// coverage. A catalog failure fails the scope; a tag-listing failure makes
// that repository unknown and the listing goes on.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	if f, ok := s.Handle.(failedScope); ok {
		return f.err
	}
	r, err := p.knownRegistry(s.Handle, s.Name)
	if err != nil {
		return err
	}
	check := &providers.EntryCheck{Provider: p.Name(), Kind: providers.KindACR, Scope: s.Name}
	// Each repository needs its own tag listing; reading them one by one
	// made a registry's audit cost repositories x latency.
	return providers.FanOut(ctx, p.maxConcurrent, func(ctx context.Context, send func(string) error) error {
		send = providers.SendWanted(e, send)
		pager := r.client.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: &p.pageSize})
		links := linkGuard{}
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("registry %s: list repositories: %w", r.login, apiErr(err))
			}
			if err := links.check(page.Link); err != nil {
				return fmt.Errorf("registry %s: list repositories: %w", r.login, err)
			}
			if page.Names == nil {
				return fmt.Errorf("registry %s: list repositories: %w: the answer has no \"repositories\"", r.login, httpapi.ErrMissingField)
			}
			// One token for the page's repositories, not one each; invalid
			// names are never put in a token scope.
			var wanted []string
			for _, n := range page.Names {
				if n != nil && providers.CheckName(providers.KindACR, *n) == nil && providers.Wanted(e, *n) {
					wanted = append(wanted, *n)
				}
			}
			for chunk := range slices.Chunk(wanted, maxBatchScopes) {
				r.tokens.prefetch(ctx, readScopes(chunk))
			}
			for _, n := range page.Names {
				name := ""
				if n != nil {
					name = *n
				}
				// A null entry goes on as "" and is reported by the worker.
				if err := send(name); err != nil {
					return err
				}
			}
		}
		return nil
	}, func(ctx context.Context, name string) error {
		if bad, ok := check.Invalid(name); ok {
			return e.Repository(bad)
		}
		repo, err := p.audit(ctx, r, name) // only context errors come back
		if err != nil {
			return err
		}
		return e.Repository(repo)
	})
}

func (p *Provider) repository(r *registry, name string, im providers.Immutability) providers.Repository {
	return providers.Repository{
		Provider:     p.cfg.Name,
		Kind:         providers.KindACR,
		Scope:        r.login,
		Name:         name,
		URI:          r.login + "/" + name,
		Immutability: im,
		Handle:       r,
	}
}

// audit reads one repository's tags. Only a cancelled context is returned
// as an error; API failures make the repository unknown.
func (p *Provider) audit(ctx context.Context, r *registry, name string) (providers.Repository, error) {
	cov, err := p.coverage(ctx, r, name, time.Time{})
	if err != nil {
		if ctx.Err() != nil {
			return providers.Repository{}, ctx.Err()
		}
		p.log.Warn("list tags failed", "registry", r.login, "repository", name, "error", err)
		return p.repository(r, name, providers.Immutability{Mode: providers.ModeUnknown, Error: err.Error()}), nil
	}
	return p.repository(r, name, cov.immutability()), nil
}
