// Package nexus is the Sonatype Nexus Repository 3 adapter for Docker
// hosted repositories.
//
// Nexus has no tag rule: a hosted repository's deployment policy
// (storage.writePolicy) decides for every image in it. ALLOW_ONCE ("disable
// redeploy") refuses to overwrite any existing tag, except "latest" when
// storage.latestPolicy allows redeploying it; DENY makes the repository
// read-only; ALLOW lets every tag be overwritten. One Nexus repository is
// one scope; the images in it (from its Docker v2 catalog) are the
// repositories of the report, all sharing the scope's setting.
//
// latestPolicy does not read back reliably (Sonatype's own Terraform
// provider treats it as write-only): an ALLOW_ONCE repository whose answer
// lacks it is counted with "latest" mutable, never assumed immutable.
//
// Everything goes through the shared REST client with HTTP Basic
// credentials (a user, or a user token's name and pass code).
package nexus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/immutag/immutag/internal/config"
	"github.com/immutag/immutag/internal/providers"
	"github.com/immutag/immutag/internal/providers/httpapi"
)

// Kind is the registry kind this adapter serves (config and report contract).
const Kind = providers.KindNexus

const restPrefix = "/service/rest/v1"

// catalogPage is the page size asked of the Docker catalog.
const catalogPage = 100

// Write policies (storage.writePolicy).
const (
	policyAllow     = "ALLOW"
	policyAllowOnce = "ALLOW_ONCE"
	policyDeny      = "DENY"
)

// Provider is one configured Nexus instance.
type Provider struct {
	name string
	cfg  config.Provider
	opts providers.Options
	log  *slog.Logger
	base string
	host string

	// only, when set, limits the audit to these repositories.
	only []string

	// tweak adjusts client options (tests shorten backoffs).
	tweak func(*httpapi.Options)
	api   httpapi.Lazy

	locks sync.Map // repository -> *sync.Mutex
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
		return nil, errors.New("nexus: endpoint is required (the Nexus base URL, e.g. https://nexus.example.com)")
	}
	if p.Credentials.UsernameEnv == "" || p.Credentials.PasswordEnv == "" {
		return nil, errors.New("nexus: credentials.username_env and credentials.password_env must name the variables holding the user (or user token name and pass code)")
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("nexus: endpoint %q must be an http(s) URL", p.Endpoint)
	}
	s, err := config.SettingsOf[Settings](p)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(p.Endpoint, "/"), restPrefix)
	base = strings.TrimSuffix(base, "/service/rest")
	return &Provider{name: p.Name, cfg: p, opts: o, base: base, host: u.Host, tweak: tweak, only: s.Repositories,
		log: o.Log().With("provider", p.Name, "kind", Kind)}, nil
}

// Name is the configured instance name.
func (p *Provider) Name() string { return p.name }

// Kind is "nexus".
func (p *Provider) Kind() providers.Kind { return Kind }

func (p *Provider) client() (*httpapi.Client, error) {
	return p.api.Client("nexus "+p.name, func() (httpapi.Options, error) {
		ue, pe := p.cfg.Credentials.UsernameEnv, p.cfg.Credentials.PasswordEnv
		user, pass := p.opts.Env(ue), p.opts.Secret(pe)
		if user == "" || pass == "" {
			return httpapi.Options{}, fmt.Errorf("environment variables %s and %s (credentials.username_env, password_env) must both be set", ue, pe)
		}
		o := httpapi.ProviderOptions(p.base, p.cfg, p.opts, p.log, httpapi.Basic{Username: user, Password: pass})
		hc := &http.Client{}
		if o.HTTPClient != nil {
			c := *o.HTTPClient
			hc = &c
		}
		rt := hc.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		if p.cfg.TLS.CAFile != "" || p.cfg.TLS.InsecureSkipVerify {
			tc, err := httpapi.TLSConfig(p.cfg.TLS)
			if err != nil {
				return httpapi.Options{}, err
			}
			t, ok := rt.(*http.Transport)
			if !ok {
				t = http.DefaultTransport.(*http.Transport)
			}
			t = t.Clone()
			t.TLSClientConfig = tc
			rt = t
		}
		hc.Transport = authBlock{rt}
		o.HTTPClient = hc
		if p.tweak != nil {
			p.tweak(&o)
		}
		return o, nil
	})
}

// authBlock turns Nexus's sign-in rate limit (3.96+: "429 Too many
// authentication attempts", Retry-After: 30) into a 401 that is not
// retried: every request under the blocked user name, waiting included,
// extends the block, which ends only after 15 minutes without one.
type authBlock struct{ rt http.RoundTripper }

func (a authBlock) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if !strings.Contains(strings.ToLower(resp.Status+" "+string(body)), "too many authentication attempts") {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	msg := `{"message":"Nexus blocks this user after repeated failed sign-ins (429 Too many authentication attempts); the block ends 15 minutes after the last request with this user name, so stop using it until then and check the credentials"}`
	resp.StatusCode, resp.Status = http.StatusUnauthorized, "401 Unauthorized"
	resp.Header.Del("Retry-After")
	resp.Header.Set("Content-Type", "application/json")
	resp.Body = io.NopCloser(strings.NewReader(msg))
	resp.ContentLength = int64(len(msg))
	return resp, nil
}

// repoSummary is an entry of GET /v1/repositories.
type repoSummary struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Type   string `json:"type"`
	URL    string `json:"url"`
}

// scopeHandle is the Scope.Handle of a Docker hosted repository.
type scopeHandle struct {
	URL string
}

// Scopes are the Docker hosted repositories the user may browse (Nexus
// lists only those; the list is not paginated).
func (p *Provider) Scopes(ctx context.Context) ([]providers.Scope, error) {
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	var repos []repoSummary
	if err := c.DoJSON(ctx, http.MethodGet, restPrefix+"/repositories", nil, &repos); err != nil {
		return nil, fmt.Errorf("nexus %s: list repositories: %w", p.name, err)
	}
	var out []providers.Scope
	seen := map[string]bool{}
	for _, r := range repos {
		if !strings.EqualFold(r.Format, "docker") || !strings.EqualFold(r.Type, "hosted") {
			continue
		}
		if len(p.only) > 0 && !slices.Contains(p.only, r.Name) {
			continue
		}
		seen[r.Name] = true
		out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: r.Name, Handle: scopeHandle{URL: r.URL}})
	}
	// A configured repository the user cannot browse (or that is not a
	// Docker hosted one) is still a scope: reading it fails and says why,
	// instead of silently auditing less.
	for _, name := range p.only {
		if !seen[name] {
			out = append(out, providers.Scope{Provider: p.name, Kind: Kind, Name: name})
		}
	}
	return out, nil
}

func settingsPath(repo string) string {
	return restPrefix + "/repositories/docker/hosted/" + url.PathEscape(repo)
}

// settings reads a hosted repository's configuration, keeping every field
// (the fix sends them back as read).
func (p *Provider) settings(ctx context.Context, c *httpapi.Client, repo string) (map[string]any, error) {
	resp, err := c.Do(ctx, httpapi.Request{Path: settingsPath(repo)})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("decode repository %s: %v", repo, err)
	}
	return m, nil
}

// remediation is what a nexus finding tells the user to do.
const remediation = "set the repository's deployment policy to Disable redeploy (storage.writePolicy ALLOW_ONCE, " +
	"latestPolicy only if latest may move): immutag fix --apply, or the repository's settings in Nexus"

// evaluate reads the deployment policy out of the settings.
func evaluate(m map[string]any) providers.Immutability {
	im := evaluatePolicy(m)
	if im.Mode == providers.ModeMutable || im.Mode == providers.ModePartial {
		im.Remediation = remediation
	}
	return im
}

func evaluatePolicy(m map[string]any) providers.Immutability {
	st, _ := m["storage"].(map[string]any)
	wp, _ := st["writePolicy"].(string)
	native := "writePolicy=" + wp
	lp, hasLP := st["latestPolicy"].(bool)
	if hasLP {
		native += ", latestPolicy=" + strconv.FormatBool(lp)
	}
	switch strings.ToUpper(wp) {
	case policyAllow:
		return providers.Immutability{Mode: providers.ModeMutable, Native: native}
	case policyDeny:
		return providers.Immutability{Mode: providers.ModeImmutable, Native: native, Note: "read-only: no tag can be pushed, new or existing"}
	case policyAllowOnce:
		switch {
		case hasLP && lp:
			return providers.Immutability{Mode: providers.ModePartial, Native: native, MutablePatterns: []string{"latest"},
				Note: "redeploy disabled except for latest"}
		case !hasLP:
			return providers.Immutability{Mode: providers.ModePartial, Native: native, MutablePatterns: []string{"latest"},
				Note: "Nexus did not report latestPolicy, so whether latest can be redeployed is unknown; it is counted as mutable"}
		}
		return providers.Immutability{Mode: providers.ModeImmutable, Native: native, Note: "redeploy disabled"}
	}
	return providers.Immutability{Mode: providers.ModeUnknown, Native: native,
		Error: fmt.Sprintf("storage.writePolicy %q is not one of ALLOW, ALLOW_ONCE, DENY", wp)}
}

// Repositories reads the repository's deployment policy once, then
// streams the images of its Docker catalog page by page.
func (p *Provider) Repositories(ctx context.Context, s providers.Scope, e providers.Emitter) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	m, err := p.settings(ctx, c, s.Name)
	if err != nil {
		return fmt.Errorf("repository %s: read settings: %w", s.Name, err)
	}
	im := evaluate(m)
	prefix := p.host + "/repository/" + s.Name + "/"
	if h, ok := s.Handle.(scopeHandle); ok && h.URL != "" {
		if u, err := url.Parse(h.URL); err == nil && u.Host != "" {
			prefix = u.Host + strings.TrimSuffix(u.Path, "/") + "/"
		}
	}
	return p.catalog(ctx, c, s.Name, func(image string) error {
		return e.Repository(providers.Repository{Provider: p.name, Kind: Kind, Scope: s.Name, Name: image,
			URI: prefix + image, Immutability: im})
	})
}

// catalog walks GET /repository/<repo>/v2/_catalog. The next page is built
// from the Link header's n and last, not followed as is: Nexus 3.71 drops
// the /repository/<repo> prefix from that link.
func (p *Provider) catalog(ctx context.Context, c *httpapi.Client, repo string, fn func(string) error) error {
	path := "/repository/" + url.PathEscape(repo) + "/v2/_catalog"
	q := url.Values{"n": {strconv.Itoa(catalogPage)}}
	var guard httpapi.LoopGuard
	for {
		resp, err := c.Do(ctx, httpapi.Request{Path: path, Query: q})
		if err != nil {
			return fmt.Errorf("repository %s: list images: %w", repo, err)
		}
		var body struct {
			Repositories *[]string `json:"repositories"`
		}
		if err := resp.JSON(&body); err != nil {
			return fmt.Errorf("repository %s: %w", repo, err)
		}
		if body.Repositories == nil {
			return fmt.Errorf("repository %s: catalog answer has no \"repositories\"", repo)
		}
		for _, name := range *body.Repositories {
			if err := fn(name); err != nil {
				return err
			}
		}
		last, err := c.NextLast(resp)
		if errors.Is(err, httpapi.ErrNoLast) {
			return fmt.Errorf("repository %s: catalog %w", repo, err)
		}
		if err != nil || last == "" {
			return err
		}
		if err := guard.Check(last); err != nil {
			return fmt.Errorf("repository %s: list images: %w", repo, err)
		}
		q = url.Values{"n": {strconv.Itoa(catalogPage)}, "last": {last}}
	}
}

// Tags streams an image's tags from the search API: Nexus stores one
// component per tag (version = tag) whose manifest asset's sha256 is the
// manifest digest and whose lastModified is the push time.
func (p *Provider) Tags(ctx context.Context, r providers.Repository, yield func(providers.Tag) error) error {
	c, err := p.client()
	if err != nil {
		return err
	}
	return httpapi.Cursor(ctx, func(ctx context.Context, cursor string) (string, error) {
		q := url.Values{"repository": {r.Scope}, "format": {"docker"}, "name": {r.Name}}
		if cursor != "" {
			q.Set("continuationToken", cursor)
		}
		var page struct {
			Items []struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				Assets  []struct {
					Path         string            `json:"path"`
					Checksum     map[string]string `json:"checksum"`
					LastModified *time.Time        `json:"lastModified"`
				} `json:"assets"`
			} `json:"items"`
			ContinuationToken *string `json:"continuationToken"`
		}
		resp, err := c.Do(ctx, httpapi.Request{Path: restPrefix + "/search", Query: q})
		if err != nil {
			return "", fmt.Errorf("%s/%s: list tags: %w", r.Scope, r.Name, err)
		}
		if err := resp.JSON(&page); err != nil {
			return "", err
		}
		for _, it := range page.Items {
			// Search matches names by terms; keep the exact image only.
			if it.Name != r.Name || it.Version == "" {
				continue
			}
			tag := providers.Tag{Name: it.Version}
			for _, a := range it.Assets {
				if strings.HasSuffix(a.Path, "/manifests/"+it.Version) {
					if d := a.Checksum["sha256"]; d != "" {
						tag.Digest = "sha256:" + strings.TrimPrefix(d, "sha256:")
					}
					if a.LastModified != nil {
						tag.Pushed = *a.LastModified
					}
				}
			}
			if err := yield(tag); err != nil {
				return "", err
			}
		}
		if page.ContinuationToken == nil {
			return "", nil
		}
		return *page.ContinuationToken, nil
	})
}
