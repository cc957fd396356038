package acr

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"

	"github.com/immutag/immutag/internal/providers"
)

// Why the adapter does its own token handling instead of the SDK's
// challenge policy:
//   - the SDK policy only knows azcore.TokenCredential, so admin users and
//     repository-scoped tokens (username + password) cannot use it;
//   - it caches a single access token, while ACR scopes tokens per
//     repository and per action (metadata_read vs metadata_write); listing
//     and locking concurrently would answer every other call with a 401
//     and a fresh token exchange.
//
// So the data-plane client gets a nil credential, a per-call policy marks
// every request as authorised (the SDK policy then passes it through
// untouched, body included), and tokenPolicy below the SDK policy sets the
// real bearer token, predicted from the request and cached per scope, with
// the 401 challenge as a fallback.

// aadScope is the Entra ID audience of every ACR cloud (azcontainerregistry
// v0.2.3 CHANGELOG).
const aadScope = "https://containerregistry.azure.net/.default"

// tokenSource turns a registry token scope into an ACR access token.
type tokenSource interface {
	fetch(ctx context.Context, service, scope string) (token string, exp time.Time, err error)
}

// authError is an authentication failure. It is non-retriable so azcore
// neither backs off on it nor lets the SDK's own challenge policy retry
// anonymously.
type authError struct{ *providers.APIError }

func (e *authError) Unwrap() error { return e.APIError }

// NonRetriable marks the error for azcore's retry policy.
func (e *authError) NonRetriable() {}

func deniedErr(status int, code, msg string) error {
	return &authError{&providers.APIError{Class: providers.ErrDenied, Status: status, Code: code, Message: msg}}
}

// basicSource is the docker-style login: GET /oauth2/token with HTTP Basic
// (admin user or a repository-scoped token's name and password). The SDK
// dropped this operation, so it is a plain HTTP call.
type basicSource struct {
	base       string
	user, pass string
	envNames   string // for messages; never the values
	hc         *http.Client
}

func (b *basicSource) fetch(ctx context.Context, service, scope string) (string, time.Time, error) {
	// Several scopes (a batch) go as repeated scope parameters, as docker
	// clients send them.
	q := url.Values{"service": {service}, "scope": strings.Fields(scope)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/oauth2/token?"+q.Encode(), nil)
	if err != nil {
		return "", time.Time{}, err
	}
	req.SetBasicAuth(b.user, b.pass)
	req.Header.Set("Accept", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token for %s: %w", scope, err)
	}
	defer resp.Body.Close()
	body, _ := readLimited(resp)
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		code, msg := parseACRError(body)
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return "", time.Time{}, deniedErr(resp.StatusCode, code, fmt.Sprintf("registry rejected the credentials from %s: %s", b.envNames, msg))
	}
	if resp.StatusCode != http.StatusOK {
		return "", time.Time{}, httpAPIError(resp, body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
		Token       string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("token for %s: decode: %w", scope, err)
	}
	tok := out.AccessToken
	if tok == "" {
		tok = out.Token
	}
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("token for %s: empty answer", scope)
	}
	return tok, jwtExpiry(tok, 5*time.Minute), nil
}

// aadSource exchanges an Entra ID token for an ACR refresh token (cached
// until it expires), then the refresh token for per-scope access tokens,
// using the SDK's AuthenticationClient.
type aadSource struct {
	cred azcore.TokenCredential
	auth *azcontainerregistry.AuthenticationClient

	mu         sync.Mutex
	refresh    string
	refreshExp time.Time
}

func (a *aadSource) refreshToken(ctx context.Context, service string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.refresh != "" && time.Now().Before(a.refreshExp) {
		return a.refresh, nil
	}
	aad, err := a.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{aadScope}})
	if err != nil {
		return "", fmt.Errorf("get Entra ID token: %w", err)
	}
	resp, err := a.auth.ExchangeAADAccessTokenForACRRefreshToken(ctx, azcontainerregistry.PostContentSchemaGrantTypeAccessToken, service,
		&azcontainerregistry.AuthenticationClientExchangeAADAccessTokenForACRRefreshTokenOptions{AccessToken: &aad.Token})
	if err != nil {
		return "", authFailure("exchange Entra ID token", err)
	}
	if resp.RefreshToken == nil || *resp.RefreshToken == "" {
		return "", errors.New("exchange Entra ID token: empty refresh token")
	}
	a.refresh = *resp.RefreshToken
	a.refreshExp = jwtExpiry(a.refresh, time.Hour)
	return a.refresh, nil
}

func (a *aadSource) fetch(ctx context.Context, service, scope string) (string, time.Time, error) {
	rt, err := a.refreshToken(ctx, service)
	if err != nil {
		return "", time.Time{}, err
	}
	resp, err := a.auth.ExchangeACRRefreshTokenForACRAccessToken(ctx, service, scope, rt,
		&azcontainerregistry.AuthenticationClientExchangeACRRefreshTokenForACRAccessTokenOptions{GrantType: to.Ptr(azcontainerregistry.TokenGrantTypeRefreshToken)})
	if err != nil {
		if ae := asAPIError(err); ae != nil && ae.Status == http.StatusUnauthorized {
			// The refresh token may have been revoked: drop it so the next
			// call starts from a fresh Entra ID token.
			a.mu.Lock()
			a.refresh = ""
			a.mu.Unlock()
		}
		return "", time.Time{}, authFailure("token for "+scope, err)
	}
	if resp.AccessToken == nil || *resp.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("token for %s: empty access token", scope)
	}
	return *resp.AccessToken, jwtExpiry(*resp.AccessToken, 5*time.Minute), nil
}

// authFailure turns a 401/403 from a token endpoint into a non-retriable
// denied error and keeps other errors as API errors.
func authFailure(what string, err error) error {
	ae := asAPIError(err)
	if ae == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden {
		return &authError{&providers.APIError{Class: providers.ErrDenied, Status: ae.Status, Code: ae.Code, Message: what + ": " + ae.Message, Err: err}}
	}
	return fmt.Errorf("%s: %w", what, ae)
}

// jwtExpiry reads exp from a JWT-shaped token, minus a safety margin, or
// falls back to now+def for opaque tokens.
func jwtExpiry(tok string, def time.Duration) time.Time {
	now := time.Now()
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		seg := strings.TrimRight(parts[1], "=")
		var raw []byte
		var err error
		if raw, err = base64.RawURLEncoding.DecodeString(seg); err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(seg)
		}
		var c struct {
			Exp int64 `json:"exp"`
		}
		if err == nil && json.Unmarshal(raw, &c) == nil && c.Exp > 0 {
			exp := time.Unix(c.Exp, 0)
			margin := min(time.Minute, exp.Sub(now)/4)
			return exp.Add(-margin)
		}
	}
	return now.Add(def)
}

// tokenCache holds one access token per scope and makes concurrent callers
// for the same scope share a single fetch.
type tokenCache struct {
	src     tokenSource
	service string

	mu  sync.Mutex
	m   map[string]*tokenEntry
	seq uint64 // insertion order, for pruning the oldest first
}

type tokenEntry struct {
	born uint64
	done chan struct{}
	tok  string
	exp  time.Time
	err  error
}

// maxCachedScopes bounds the cache: scopes are per repository, and memory
// must not grow with the number of repositories.
const maxCachedScopes = 256

func newTokenCache(src tokenSource, service string) *tokenCache {
	return &tokenCache{src: src, service: service, m: map[string]*tokenEntry{}}
}

func (c *tokenCache) get(ctx context.Context, scope string) (string, error) {
	for {
		c.mu.Lock()
		e := c.m[scope]
		if e != nil {
			select {
			case <-e.done:
				if e.err == nil && time.Now().Before(e.exp) {
					c.mu.Unlock()
					return e.tok, nil
				}
				e = nil // expired or failed: fetch again
			default:
			}
		}
		if e != nil {
			c.mu.Unlock()
			select {
			case <-e.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if e.err != nil && ctx.Err() == nil && (isContextErr(e.err) || errors.Is(e.err, errBatchFailed)) {
				continue // the fetching caller gave up, or a batch failed: fetch alone
			}
			return e.tok, e.err
		}
		if len(c.m) >= maxCachedScopes {
			c.prune(1)
		}
		c.seq++
		e = &tokenEntry{done: make(chan struct{}), born: c.seq}
		c.m[scope] = e
		c.mu.Unlock()
		e.tok, e.exp, e.err = c.src.fetch(ctx, c.service, scope)
		close(e.done)
		return e.tok, e.err
	}
}

// prune makes room for need more entries: it drops finished entries that
// are expired or failed, then the oldest finished ones (a batch fetched for
// the next page must not push out the current page's tokens, nor be pushed
// out before its repositories are read). c.mu must be held.
func (c *tokenCache) prune(need int) {
	now := time.Now()
	for k, e := range c.m {
		select {
		case <-e.done:
			if e.err != nil || !now.Before(e.exp) {
				delete(c.m, k)
			}
		default:
		}
	}
	if len(c.m)+need <= maxCachedScopes {
		return
	}
	type aged struct {
		key  string
		born uint64
	}
	var done []aged
	for k, e := range c.m {
		select {
		case <-e.done:
			done = append(done, aged{k, e.born})
		default:
		}
	}
	slices.SortFunc(done, func(a, b aged) int { return cmp.Compare(a.born, b.born) })
	for _, d := range done {
		if len(c.m)+need <= maxCachedScopes {
			break
		}
		delete(c.m, d.key)
	}
}

// invalidate forgets tok for scope after the registry rejected it.
func (c *tokenCache) invalidate(scope, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[scope]; e != nil {
		select {
		case <-e.done:
			if e.tok == tok {
				delete(c.m, scope)
			}
		default:
		}
	}
}

// predictScope derives the token scope ACR will demand for a data-plane
// call: registry:catalog:* for the catalog, repository:<name>:metadata_read
// for reads, metadata_write for PATCH, delete for DELETE.
func predictScope(method, escapedPath string) string {
	rest, ok := strings.CutPrefix(escapedPath, "/acr/v1/")
	if !ok {
		return ""
	}
	if rest == "_catalog" {
		return "registry:catalog:*"
	}
	segs := strings.Split(rest, "/")
	cut := len(segs)
	for i, s := range segs {
		if s == "_tags" || s == "_manifests" {
			cut = i
			break
		}
	}
	name, err := url.PathUnescape(strings.Join(segs[:cut], "/"))
	if err != nil || name == "" {
		return ""
	}
	action := "metadata_read"
	switch method {
	case http.MethodPatch, http.MethodPut, http.MethodPost:
		action = "metadata_write"
	case http.MethodDelete:
		action = "delete"
	}
	return "repository:" + name + ":" + action
}

// challenge parses `Bearer realm="..",service="..",scope=".."`.
func challenge(h string) map[string]string {
	out := map[string]string{}
	_, rest, ok := strings.Cut(h, " ")
	if !ok {
		return out
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, found := strings.Cut(rest, "=")
		if !found {
			break
		}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				out[k] = v[1:]
				break
			}
			out[k] = v[1 : end+1]
			rest = v[end+2:]
		} else {
			val, after, _ := strings.Cut(v, ",")
			out[k] = val
			rest = after
		}
	}
	return out
}

// authMarker runs before the SDK's challenge policy and marks the request
// as authorised so that policy forwards it as is (with its body) instead of
// sending a bodiless challenge probe; tokenPolicy sets the real header.
type authMarker struct{}

func (authMarker) Do(req *policy.Request) (*http.Response, error) {
	req.Raw().Header.Set("Authorization", "Bearer -")
	return req.Next()
}

type sentKey struct{}

// withSentFlag returns a context whose requests record, in f, whether any
// attempt reached the transport; the lock loop journals only calls that may
// have changed the registry.
func withSentFlag(ctx context.Context, f *atomic.Bool) context.Context {
	return context.WithValue(ctx, sentKey{}, f)
}

func markSent(ctx context.Context) {
	if f, ok := ctx.Value(sentKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// tokenPolicy sets the bearer token for each try and answers the registry's
// 401 challenge once; a second 401 becomes a non-retriable denied error.
type tokenPolicy struct {
	tokens *tokenCache
}

func (p *tokenPolicy) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	ctx := raw.Context()
	scope := predictScope(raw.Method, raw.URL.EscapedPath())
	tok := ""
	if scope != "" {
		var err error
		if tok, err = p.tokens.get(ctx, scope); err != nil {
			return nil, err
		}
		raw.Header.Set("Authorization", "Bearer "+tok)
	} else {
		raw.Header.Del("Authorization")
	}
	markSent(ctx)
	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	want := challenge(resp.Header.Get("WWW-Authenticate"))["scope"]
	if want == "" {
		want = scope
	}
	if want == "" {
		return nil, unauthorized(resp)
	}
	runtime.Drain(resp)
	if tok != "" {
		p.tokens.invalidate(scope, tok)
	}
	tok2, err := p.tokens.get(ctx, want)
	if err != nil {
		return nil, err
	}
	if err := req.RewindBody(); err != nil {
		return nil, err
	}
	raw.Header.Set("Authorization", "Bearer "+tok2)
	resp, err = req.Next()
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		p.tokens.invalidate(want, tok2)
		return nil, unauthorized(resp)
	}
	return resp, err
}

func unauthorized(resp *http.Response) error {
	body, _ := runtime.Payload(resp)
	code, msg := parseACRError(body)
	if msg == "" {
		msg = "authentication required"
	}
	return deniedErr(http.StatusUnauthorized, code, msg)
}
