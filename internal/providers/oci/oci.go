// Package oci is the adapter for any registry that speaks the Docker/OCI
// distribution API: a self-hosted distribution ("registry:2"), Zot, and the
// registry endpoints of ghcr.io, GitLab, Artifactory and Nexus.
//
// The distribution API has no tag-immutability setting, so every repository
// is reported `unsupported`, with a remediation that points at what does
// work: the tag ledger (`audit --record`, `--fail-on-overwrite`), the CI
// linter, and the registry's own setting where it is one of the kinds that
// have one. What the adapter does well is list: repositories from
// /v2/_catalog (a Docker extension, not OCI, so a configured repository
// list is the alternative) and every tag with the digest it names, which
// feeds the ledger.
//
// All registry traffic goes through go-containerregistry (pkg/v1/remote):
// its Docker token flow, its Link paging with the same-host check, and its
// manifest HEAD with the Accept types that return an index digest for a
// multi-arch image. Below it sits guard, which adds the config's rate and
// concurrency limits, honours Retry-After, and refuses to let a manifest,
// tag or catalog call follow a redirect to another origin.
package oci

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
	"github.com/immutag/immutag/internal/redact"
)

// Kind is the registry kind this package implements.
const Kind = "oci"

// Defaults used when the config leaves them zero.
const (
	// DefaultPageSize is the n sent on catalog and tag-list pages.
	// distribution caps catalog pages at 1000 (catalog.maxentries) and ECR
	// refuses more, so 1000 is the largest value every registry accepts.
	DefaultPageSize = 1000
	// defaultMaxConcurrent bounds manifest HEADs in flight per tag page and
	// repositories checked at once.
	defaultMaxConcurrent = 4
	// maxRetryAfter is the longest Retry-After the guard waits for before
	// handing the answer to go-containerregistry's retry.
	maxRetryAfter = 2 * time.Minute
	// headerTimeout bounds the wait for response headers of one attempt.
	headerTimeout = 60 * time.Second
)

// Native is the value shown as the native setting: the API has none.
const Native = "distribution API: no setting"

// Note says why the mode is unsupported; the report shows it in the reason.
const Note = "the Docker/OCI distribution API has no tag-immutability setting: any client with push access can overwrite a tag"

// Remediation says what a user can do about an `oci` repository.
const Remediation = "record tags with immutag audit --record and gate on overwrites with --fail-on-overwrite " +
	"(immutag history --moved lists them); run immutag lint on the CI workflows that push; " +
	"if the registry is GitLab, Nexus, Artifactory, Harbor or Quay, audit it with that kind instead, which can read and set its own protection"

// Config is what the adapter needs from its config entry.
type Config struct {
	// Name is the configured instance name.
	Name string
	// Endpoint is the registry root, e.g. https://registry.example.com
	// (scheme and host, no path: the API lives at /v2/).
	Endpoint string
	// Repositories, when set, are audited instead of listing /v2/_catalog.
	Repositories []string
	// Environment variable names: username + password (Basic, exchanged for
	// a bearer token when the registry asks), or a token sent as a bearer.
	UsernameEnv, PasswordEnv, TokenEnv string
	TLS                                config.TLS
	Rate                               config.Rate
}

// FromProvider maps the common config envelope onto Config.
func FromProvider(p config.Provider, repositories []string) Config {
	return Config{
		Name: p.Name, Endpoint: p.Endpoint, Repositories: repositories,
		UsernameEnv: p.Credentials.UsernameEnv, PasswordEnv: p.Credentials.PasswordEnv, TokenEnv: p.Credentials.TokenEnv,
		TLS: p.TLS, Rate: p.Rate,
	}
}

// Provider is one configured distribution registry.
type Provider struct {
	cfg      Config
	opts     providers.Options
	log      *slog.Logger
	reg      name.Registry
	origin   *url.URL
	pageSize int
	backoff  remote.Backoff
	limits   *httpapi.Limiter
	// sleep waits out Retry-After (nil = a timer); tests record waits.
	sleep func(ctx context.Context, d time.Duration) error

	rtOnce sync.Once
	rt     http.RoundTripper
	rtErr  error
}

var (
	_ providers.Provider  = (*Provider)(nil)
	_ providers.TagLister = (*Provider)(nil)
)

// New builds the adapter from a config entry; it makes no API call and
// reads no credential.
func New(_ context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	return NewFromConfig(FromProvider(p, s.Repositories), o)
}

// NewFromConfig builds the adapter from its own Config.
func NewFromConfig(c Config, o providers.Options) (*Provider, error) {
	reg, origin, err := ParseEndpoint(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("oci: endpoint: %w", err)
	}
	for i, r := range c.Repositories {
		if _, err := name.NewRepository(reg.Name()+"/"+r, name.StrictValidation); err != nil || r != strings.TrimSpace(r) {
			return nil, fmt.Errorf("oci: repositories[%d] %q is not a repository name (lower-case path components separated by /)", i, r)
		}
	}
	if (c.UsernameEnv == "") != (c.PasswordEnv == "") {
		return nil, errors.New("oci: credentials.username_env and credentials.password_env go together")
	}
	if c.TokenEnv != "" && c.UsernameEnv != "" {
		return nil, errors.New("oci: use either credentials.token_env or credentials.username_env/password_env, not both")
	}
	return &Provider{
		cfg: c, opts: o, reg: reg, origin: origin,
		log:      o.Log().With("provider", c.Name, "kind", Kind),
		pageSize: DefaultPageSize,
		backoff:  backoff(o.Retry),
		limits:   httpapi.NewLimiter(c.Rate, 0),
	}, nil
}

// ParseEndpoint checks a registry root URL and returns the go-containerregistry
// registry for it and its origin. http is allowed only when written out.
func ParseEndpoint(raw string) (name.Registry, *url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(raw), "/"))
	switch {
	case raw == "":
		return name.Registry{}, nil, errors.New("missing: the registry root, e.g. https://registry.example.com")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return name.Registry{}, nil, fmt.Errorf("%q: want http(s)://host[:port]", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return name.Registry{}, nil, errors.New("credentials, query or fragment in the URL are refused (value not shown)")
	case u.Path != "" && u.Path != "/v2":
		return name.Registry{}, nil, fmt.Errorf("%q: the distribution API lives at the root (/v2/); give the root without a path", raw)
	}
	opts := []name.Option{name.StrictValidation}
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, opts...)
	if err != nil {
		return name.Registry{}, nil, fmt.Errorf("%q: %w", raw, err)
	}
	return reg, &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "oci".
func (p *Provider) Kind() providers.Kind { return Kind }

// Scopes is the one registry.
func (p *Provider) Scopes(context.Context) ([]providers.Scope, error) {
	return []providers.Scope{{Provider: p.cfg.Name, Kind: Kind, Name: p.reg.Name()}}, nil
}

// auth reads the credentials named in config.
func (p *Provider) auth() (authn.Authenticator, error) {
	switch {
	case p.cfg.TokenEnv != "":
		tok := p.opts.Secret(p.cfg.TokenEnv)
		if tok == "" {
			return nil, fmt.Errorf("environment variable %s (credentials.token_env) is empty", p.cfg.TokenEnv)
		}
		return &authn.Bearer{Token: tok}, nil
	case p.cfg.UsernameEnv != "":
		u, pw := p.opts.Env(p.cfg.UsernameEnv), p.opts.Secret(p.cfg.PasswordEnv)
		if u == "" || pw == "" {
			return nil, fmt.Errorf("environment variables %s and %s (credentials.username_env, password_env) must both be set", p.cfg.UsernameEnv, p.cfg.PasswordEnv)
		}
		return &authn.Basic{Username: u, Password: pw}, nil
	}
	return authn.Anonymous, nil
}

// transport is the guarded base transport, built once.
func (p *Provider) transport() (http.RoundTripper, error) {
	p.rtOnce.Do(func() {
		base, err := httpapi.Transport(p.opts.HTTPClient, p.cfg.TLS)
		if err != nil {
			p.rtErr = err
			return
		}
		// go-containerregistry's client has no timeout; bound the wait for
		// an answer per attempt (a stalled attempt is retried like a reset).
		// A test's HTTPClient.Timeout shortens it.
		timeout := headerTimeout
		if hc := p.opts.HTTPClient; hc != nil && hc.Timeout > 0 {
			timeout = hc.Timeout
		}
		if at := p.opts.Retry.AttemptTimeout; at > 0 {
			timeout = at
		}
		p.rt = &guard{
			base: &httpapi.DebugTransport{Base: base, Logger: p.log}, timeout: timeout,
			origin: p.origin, limits: p.limits, now: p.opts.Now, sleep: p.sleep,
		}
	})
	return p.rt, p.rtErr
}

// puller returns a fresh Puller. A Puller caches one authenticated
// transport per repository for its lifetime, so the adapter makes one per
// listing: memory stays flat however many repositories a registry holds.
func (p *Provider) puller(ctx context.Context) (*remote.Puller, error) {
	a, err := p.auth()
	if err != nil {
		return nil, fmt.Errorf("oci %s: %w", p.cfg.Name, err)
	}
	rt, err := p.transport()
	if err != nil {
		return nil, fmt.Errorf("oci %s: %w", p.cfg.Name, err)
	}
	return remote.NewPuller(remote.WithAuth(a), remote.WithTransport(rt), remote.WithContext(ctx),
		remote.WithPageSize(p.pageSize), remote.WithUserAgent("immutag"), remote.WithRetryBackoff(p.backoff))
}

// repository builds the Repository reported for name.
func (p *Provider) repository(repo string) providers.Repository {
	return providers.Repository{
		Provider: p.cfg.Name, Kind: Kind, Scope: p.reg.Name(), Name: repo,
		URI: p.reg.Name() + "/" + repo,
		Immutability: providers.Immutability{
			Mode: providers.ModeUnsupported, Native: Native, Note: Note, Remediation: Remediation,
		},
	}
}

// Repositories lists the registry: the configured repositories (each
// checked to exist, so a typo is an error, not a silent pass), or every
// repository /v2/_catalog returns.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	if len(p.cfg.Repositories) > 0 {
		return providers.FanOut(ctx, p.maxConcurrent(), func(ctx context.Context, send func(string) error) error {
			for _, r := range p.cfg.Repositories {
				// The existence check costs a call: a sharded run asks first.
				if !providers.Wanted(e, r) {
					continue
				}
				if err := send(r); err != nil {
					return err
				}
			}
			return nil
		}, func(ctx context.Context, r string) error {
			repo := p.repository(r)
			if err := p.exists(ctx, r); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				repo.Immutability = providers.Immutability{Mode: providers.ModeUnknown, Native: Native, Error: err.Error(),
					Remediation: "check the repository name under repositories and that the credentials may pull it"}
			}
			return e.Repository(repo)
		})
	}
	return p.catalog(ctx, func(r string) error { return e.Repository(p.repository(r)) }, e)
}

// catalog pages /v2/_catalog. go-containerregistry follows the Link header
// (refusing another host); the loop guard stops a registry that links a
// page to itself.
func (p *Provider) catalog(ctx context.Context, yield func(string) error, e providers.Emitter) error {
	pl, err := p.puller(ctx)
	if err != nil {
		return err
	}
	c, err := pl.Catalogger(ctx, p.reg)
	if err != nil {
		return p.catalogErr(err)
	}
	var guard httpapi.LoopGuard
	check := &providers.EntryCheck{Provider: p.cfg.Name, Kind: Kind, Scope: p.reg.Name()}
	for c.HasNext() {
		page, err := c.Next(ctx)
		if err != nil {
			return p.catalogErr(err)
		}
		for _, r := range page.Repos {
			// An entry that is no repository name is reported as an error
			// under a displayable name and never used in a call.
			if bad, ok := check.Invalid(r); ok {
				if err := e.Repository(bad); err != nil {
					return err
				}
				continue
			}
			if _, err := name.NewRepository(p.reg.Name()+"/"+r, name.StrictValidation); err != nil {
				if err := e.Repository(providers.InvalidEntry(p.cfg.Name, Kind, p.reg.Name(), r, 0, err)); err != nil {
					return err
				}
				continue
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		if page.Next != "" {
			if err := guard.Check(page.Next); err != nil {
				return fmt.Errorf("oci %s: list /v2/_catalog: %w", p.cfg.Name, err)
			}
		}
	}
	return nil
}

// backoff is go-containerregistry's retry schedule: three attempts, 1 s
// then 3 s apart; Options.Retry.MaxBackoff caps the waits (tests).
func backoff(rt providers.RetryTuning) remote.Backoff {
	b := remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}
	// Not wait.Backoff's Cap: reaching it ends the retries early. The
	// second wait is three times the first, so a third of the cap keeps both
	// under it and the attempt count unchanged.
	if rt.MaxBackoff > 0 {
		b.Duration = min(b.Duration, rt.MaxBackoff/3)
	}
	return b
}

func (p *Provider) catalogErr(err error) error {
	return fmt.Errorf("oci %s: %w", p.cfg.Name, p.catalogErr1(err))
}

func (p *Provider) catalogErr1(err error) error {
	err = apiError(err)
	switch providers.ClassOf(err) {
	case providers.ErrNotFound, providers.ErrUnsupported:
		return fmt.Errorf("list /v2/_catalog: the registry does not offer the catalog (it is a Docker extension, not OCI): list the repositories to audit under repositories: %w", err)
	case providers.ErrDenied:
		return fmt.Errorf("list /v2/_catalog: denied (many registries reserve the catalog for administrators): list the repositories to audit under repositories, or grant catalog access: %w", err)
	}
	return fmt.Errorf("list /v2/_catalog: %w", err)
}

// exists asks for the first tag of a configured repository.
func (p *Provider) exists(ctx context.Context, repo string) error {
	ref, err := name.NewRepository(p.reg.Name()+"/"+repo, p.nameOpts()...)
	if err != nil {
		return err
	}
	pl, err := p.puller(ctx)
	if err != nil {
		return err
	}
	if _, err := pl.Lister(ctx, ref); err != nil {
		return fmt.Errorf("list tags of %s: %w", repo, apiError(err))
	}
	return nil
}

func (p *Provider) nameOpts() []name.Option {
	if p.origin.Scheme == "http" {
		return []name.Option{name.StrictValidation, name.Insecure}
	}
	return []name.Option{name.StrictValidation}
}

func (p *Provider) maxConcurrent() int {
	if n := p.cfg.Rate.MaxConcurrent; n > 0 {
		return n
	}
	return defaultMaxConcurrent
}

// apiError turns a go-containerregistry transport error into the shared
// typed error, keeping the registry's own code and message.
func apiError(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	ae := &providers.APIError{Class: httpapi.ClassForStatus(te.StatusCode), Status: te.StatusCode, Err: err}
	if len(te.Errors) > 0 {
		ae.Code = string(te.Errors[0].Code)
		ae.Message = te.Errors[0].Message
	}
	if ae.Message == "" {
		ae.Message = http.StatusText(te.StatusCode)
	}
	ae.Message = scrubSent(ae.Message, te.Request)
	return ae
}

// scrubSent masks the credential the failed request carried if the
// registry echoed it. Bearer tokens minted per repository are not
// registered with the program's redactor (that set would grow with the
// registry), so the one known to be in play is masked here.
func scrubSent(msg string, req *http.Request) string {
	if req == nil {
		return msg
	}
	h := strings.TrimSpace(req.Header.Get("Authorization"))
	if h == "" {
		return msg
	}
	vals := []string{h}
	if _, cred, ok := strings.Cut(h, " "); ok && len(strings.TrimSpace(cred)) >= 6 {
		vals = append(vals, strings.TrimSpace(cred))
	}
	for _, v := range vals {
		msg = strings.ReplaceAll(msg, v, redact.Mask)
	}
	return msg
}
