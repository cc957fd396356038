// Package ecr is the Amazon ECR adapter. It reads each repository's
// imageTagMutability (plus the pull-through-cache rules that explain
// legitimately mutable repositories), fixes drift with PutImageTagMutability
// and can make the ROOT repository creation template immutable so that
// repositories ECR creates on the caller's behalf start immutable.
//
// One scope is one account x region ("ACCOUNT/REGION"). Accounts come from
// role_arns (AssumeRole) or, when that list is empty, from the caller's own
// identity. Credentials come from the SDK's default chain, except in a
// hermetic run (the demo), which passes them through providers.Options.
package ecr

import (
	"github.com/aws/smithy-go/logging"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Compile-time checks of the capabilities the engine discovers by assertion.
var (
	_ providers.Provider         = (*Provider)(nil)
	_ providers.Enforcer         = (*Provider)(nil)
	_ providers.DefaultsEnforcer = (*Provider)(nil)
)

// ecrAPI is the part of the ECR client the adapter uses; tests substitute it.
type ecrAPI interface {
	DescribeRepositories(ctx context.Context, in *ecr.DescribeRepositoriesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
	DescribePullThroughCacheRules(ctx context.Context, in *ecr.DescribePullThroughCacheRulesInput, optFns ...func(*ecr.Options)) (*ecr.DescribePullThroughCacheRulesOutput, error)
	PutImageTagMutability(ctx context.Context, in *ecr.PutImageTagMutabilityInput, optFns ...func(*ecr.Options)) (*ecr.PutImageTagMutabilityOutput, error)
	DescribeRepositoryCreationTemplates(ctx context.Context, in *ecr.DescribeRepositoryCreationTemplatesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoryCreationTemplatesOutput, error)
	CreateRepositoryCreationTemplate(ctx context.Context, in *ecr.CreateRepositoryCreationTemplateInput, optFns ...func(*ecr.Options)) (*ecr.CreateRepositoryCreationTemplateOutput, error)
	UpdateRepositoryCreationTemplate(ctx context.Context, in *ecr.UpdateRepositoryCreationTemplateInput, optFns ...func(*ecr.Options)) (*ecr.UpdateRepositoryCreationTemplateOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

// stsAPI is the part of the STS client used to learn the caller's account.
type stsAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

const (
	// maxAttempts bounds the SDK retryer (first try included). ECR publishes
	// no control-plane TPS, so throttles are expected on big estates.
	maxAttempts = 5
	// defaultMaxBackoff caps one retry delay.
	defaultMaxBackoff = 20 * time.Second
	// defaultAttemptTimeout bounds one HTTP attempt. The SDK's default
	// client has none, so a stalled endpoint held its scope (and the whole
	// audit) until the run was cancelled; a timed-out attempt is retried by
	// the SDK retryer like any transient network error.
	defaultAttemptTimeout = 60 * time.Second
	// pageSize is DescribeRepositories' maximum; fewer round trips per scope.
	pageSize = 1000
	// sessionName tags AssumeRole sessions in CloudTrail.
	sessionName = "immutag"
)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// role is one account reached through AssumeRole.
type role struct {
	arn     string
	account string
}

// scope is one account x region with the client that reaches it.
type scope struct {
	name    string
	account string
	region  string
	api     ecrAPI
}

// tuning holds knobs tests change (providers.Options.Retry, or newProvider
// directly); production uses defaultTuning.
type tuning struct {
	maxBackoff     time.Duration
	attemptTimeout time.Duration
}

var defaultTuning = tuning{maxBackoff: defaultMaxBackoff, attemptTimeout: defaultAttemptTimeout}

// Provider is one configured ECR instance. It is safe for concurrent use.
type Provider struct {
	name    string
	log     *slog.Logger
	regions []string
	roles   []role
	sts     stsAPI
	// self holds clients with the caller's own credentials, by region;
	// assumed holds clients per "account/region" for role_arns.
	self    map[string]ecrAPI
	assumed map[string]ecrAPI

	// ptcDeclared, when non-nil, replaces the pull-through-cache lookup
	// (config pull_through_cache_prefixes).
	ptcDeclared []string

	mu     sync.Mutex
	scopes []*scope // cached after the first successful Scopes
}

// New builds an ECR provider from its config entry. It reads the SDK's
// shared config and environment but calls no API.
func New(ctx context.Context, p config.Provider, o providers.Options) (providers.Provider, error) {
	t := defaultTuning
	if o.Retry.MaxBackoff > 0 {
		t.maxBackoff = o.Retry.MaxBackoff
	}
	if o.Retry.AttemptTimeout > 0 {
		t.attemptTimeout = o.Retry.AttemptTimeout
	}
	return newProvider(ctx, p, o, t)
}

func newProvider(ctx context.Context, p config.Provider, o providers.Options, t tuning) (*Provider, error) {
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	roles, err := parseRoles(s.RoleARNs)
	if err != nil {
		return nil, err
	}
	if p.Endpoint != "" {
		u, err := url.Parse(p.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("endpoint %q: want an http(s) URL", p.Endpoint)
		}
	}
	if p.Rate.RequestsPerSecond < 0 || p.Rate.MaxConcurrent < 0 {
		return nil, errors.New("rate: requests_per_second and max_concurrent must not be negative")
	}

	retryer := func() aws.Retryer {
		return failFast{log: o.Log(), provider: p.Name, RetryerV2: retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.MaxBackoff = t.maxBackoff
			so.Backoff = retry.NewExponentialJitterBackoff(t.maxBackoff)
			// A refused redirect is final: the SDK would count it a
			// connection error and send the call again.
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if errors.Is(err, httpapi.ErrRedirect) || errors.Is(err, httpapi.ErrBodyTooLarge) {
					return aws.FalseTernary
				}
				if httpapi.UnknownHost(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, so.Retryables...)
		})}
	}
	// The SDK logs to stderr by default, around the program's redacting
	// handler: its notices go through the adapter's logger instead.
	slogger := o.Log()
	sdkLog := logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		lvl := slog.LevelDebug
		if c == logging.Warn {
			lvl = slog.LevelWarn
		}
		slogger.Log(ctx, lvl, "aws sdk: "+fmt.Sprintf(format, v...), "provider", p.Name)
	})
	hc, err := httpClient(p.TLS, t.attemptTimeout)
	if err != nil {
		return nil, err
	}
	var cfg aws.Config
	if o.Hermetic {
		cfg, err = hermeticConfig(o, retryer, sdkLog, hc)
	} else {
		cfg, err = awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRetryer(retryer), awsconfig.WithLogger(sdkLog), awsconfig.WithHTTPClient(hc))
	}
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	// Wrapped after loading, so that AWS_CA_BUNDLE still finds the
	// buildable client it configures.
	cfg.HTTPClient = refuseRedirects(cfg.HTTPClient, p.Name)

	regions, err := parseRegions(s.Regions, cfg.Region)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		// STS needs a region to sign; the first audited one is as good as any.
		cfg.Region = regions[0]
	}

	stsClient := sts.NewFromConfig(cfg, func(so *sts.Options) {
		// AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL were already applied by the
		// SDK. Without them STS follows the configured endpoint, because an
		// endpoint override means an emulator or an isolated network where
		// the public STS is not reachable either.
		if so.BaseEndpoint == nil && p.Endpoint != "" {
			so.BaseEndpoint = aws.String(p.Endpoint)
		}
	})

	var apiOpts []func(*middleware.Stack) error
	if l := newLimiter(p.Rate); l != nil {
		apiOpts = append(apiOpts, l.add)
	}
	newECR := func(c aws.Config, region string) ecrAPI {
		return ecr.NewFromConfig(c, func(eo *ecr.Options) {
			eo.Region = region
			// Only an explicit endpoint replaces what the SDK resolved from
			// AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL.
			if p.Endpoint != "" {
				eo.BaseEndpoint = aws.String(p.Endpoint)
			}
			// Cloned: the slice comes from the shared aws.Config.
			eo.APIOptions = append(slices.Clone(eo.APIOptions), apiOpts...)
		})
	}

	pr := &Provider{
		name:    p.Name,
		log:     o.Log().With("provider", p.Name, "kind", providers.KindECR),
		regions: regions,
		roles:   roles,
		sts:     stsClient,
		self:    map[string]ecrAPI{},
		assumed: map[string]ecrAPI{},
	}
	if s.PullThroughCachePrefixes != nil {
		pr.ptcDeclared = slices.Clone(s.PullThroughCachePrefixes)
	}
	if len(roles) == 0 {
		for _, r := range regions {
			pr.self[r] = newECR(cfg, r)
		}
		return pr, nil
	}
	for _, rl := range roles {
		rc := cfg.Copy()
		rc.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, rl.arn,
			func(ao *stscreds.AssumeRoleOptions) { ao.RoleSessionName = sessionName }))
		for _, r := range regions {
			pr.assumed[rl.account+"/"+r] = newECR(rc, r)
		}
	}
	return pr, nil
}

// hermeticConfig is the aws.Config of a hermetic run (providers.Options
// Hermetic): static keys and the region read through Getenv under the SDK's
// own variable names, and nothing else. LoadDefaultConfig would read the
// process environment, the shared config files and instance metadata.
func hermeticConfig(o providers.Options, retryer func() aws.Retryer, log logging.Logger, hc aws.HTTPClient) (aws.Config, error) {
	id, secret := o.Env("AWS_ACCESS_KEY_ID"), o.Secret("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("hermetic run: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be given")
	}
	return aws.Config{
		Region:      o.Env("AWS_REGION"),
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, o.Secret("AWS_SESSION_TOKEN"))),
		HTTPClient:  hc,
		Retryer:     retryer,
		Logger:      log,
	}, nil
}

func parseRoles(arns []string) ([]role, error) {
	var out []role
	seen := map[string]string{}
	for i, s := range arns {
		s = strings.TrimSpace(s)
		a, err := arn.Parse(s)
		if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || !accountRE.MatchString(a.AccountID) {
			return nil, fmt.Errorf("role_arns[%d] %q: want arn:PARTITION:iam::ACCOUNT:role/NAME", i, s)
		}
		if prev, ok := seen[a.AccountID]; ok {
			return nil, fmt.Errorf("role_arns[%d] %q: account %s is already reached through %s", i, s, a.AccountID, prev)
		}
		seen[a.AccountID] = s
		out = append(out, role{arn: s, account: a.AccountID})
	}
	return out, nil
}

func parseRegions(cfgRegions []string, fallback string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i, r := range cfgRegions {
		r = strings.TrimSpace(r)
		if r == "" {
			return nil, fmt.Errorf("regions[%d]: empty region", i)
		}
		if seen[r] {
			return nil, fmt.Errorf("regions[%d]: duplicate region %s", i, r)
		}
		seen[r] = true
		out = append(out, r)
	}
	if len(out) == 0 {
		if fallback == "" {
			return nil, errors.New("no region: set regions or AWS_REGION")
		}
		out = []string{fallback}
	}
	return out, nil
}

// httpClient is the SDK's own client with a per-attempt timeout and, when
// configured, the TLS options (a private CA, or verification off on request).
func httpClient(t config.TLS, attemptTimeout time.Duration) (*awshttp.BuildableClient, error) {
	hc := awshttp.NewBuildableClient()
	if attemptTimeout > 0 {
		hc = hc.WithTimeout(attemptTimeout)
	}
	if t.CAFile == "" && !t.InsecureSkipVerify {
		return hc, nil
	}
	tc, err := httpapi.TLSConfig(t)
	if err != nil {
		return nil, err
	}
	return hc.WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = tc
	}), nil
}

// refuseRedirects makes hc follow no redirect. The SDK's own client follows
// 307 and 308, re-sending the signed request body to wherever the answer
// points; an ECR or STS API never redirects.
func refuseRedirects(hc aws.HTTPClient, provider string) aws.HTTPClient {
	if b, ok := hc.(*awshttp.BuildableClient); ok {
		hc = b.Freeze()
	}
	if c, ok := hc.(*http.Client); ok {
		return httpapi.NoRedirectClient(c, provider)
	}
	return hc
}

// Name returns the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind returns providers.KindECR.
func (p *Provider) Kind() providers.Kind { return providers.KindECR }

// Scopes returns one scope per account x region. Without role_arns the
// caller's own account is learnt from STS GetCallerIdentity (once).
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	ss, err := p.scopeList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]providers.Scope, 0, len(ss))
	for _, s := range ss {
		out = append(out, providers.Scope{Provider: p.name, Kind: providers.KindECR, Name: s.name, Handle: s})
	}
	return out, nil
}

func (p *Provider) scopeList(ctx context.Context) ([]*scope, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scopes != nil {
		return p.scopes, nil
	}
	var ss []*scope
	if len(p.roles) == 0 {
		out, err := p.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("sts get caller identity: %w", apiError(err, false))
		}
		acct := aws.ToString(out.Account)
		if !accountRE.MatchString(acct) {
			return nil, fmt.Errorf("sts get caller identity: unexpected account %q", acct)
		}
		for _, r := range p.regions {
			ss = append(ss, &scope{name: acct + "/" + r, account: acct, region: r, api: p.self[r]})
		}
	} else {
		for _, rl := range p.roles {
			for _, r := range p.regions {
				key := rl.account + "/" + r
				ss = append(ss, &scope{name: key, account: rl.account, region: r, api: p.assumed[key]})
			}
		}
	}
	p.scopes = ss
	return ss, nil
}

// scopeAt returns the configured scope of an account and region (a
// change's Ref): the listing's when Scopes ran, else looked up once.
func (p *Provider) scopeAt(ctx context.Context, account, region string) (*scope, error) {
	ss, err := p.scopeList(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if s.account == account && s.region == region {
			return s, nil
		}
	}
	return nil, fmt.Errorf("account %s region %s is not configured for provider %s", account, region, p.name)
}

// scopeFor returns the scope behind a handle, or looks it up by name when
// the repository did not come from the listing (a webhook, the ledger).
func (p *Provider) scopeFor(ctx context.Context, handle any, name string) (*scope, error) {
	if s, ok := handle.(*scope); ok && s != nil && s.api != nil {
		return s, nil
	}
	ss, err := p.scopeList(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range ss {
		if s.name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("scope %q is not configured for provider %s", name, p.name)
}
