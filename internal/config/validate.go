package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/immutag/immutag/internal/providers"
)

var (
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// envRE is the conventional shape of a variable name: a value of a
	// *_env key outside it is most likely a secret pasted in its place.
	envRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	// Region shape, not a list: new regions (il-central-1, eusc-de-east-1,
	// us-isob-east-1) must not need a release.
	regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	roleRE   = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
)

// Validate checks what the key-level decode cannot: required keys per kind,
// value shapes, unique names, that tls.ca_file exists, and the policy. It is
// for configs built in code (Decode already runs it). Errors are *Error and
// locate providers by Provider.Line when it is set.
func (c *Config) Validate() error {
	return c.validate(func(path string) int {
		rest, ok := strings.CutPrefix(path, "providers[")
		if !ok {
			return 0
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return 0
		}
		i, err := strconv.Atoi(rest[:end])
		if err != nil || i < 0 || i >= len(c.Providers) {
			return 0
		}
		return c.Providers[i].Line
	})
}

type validator struct {
	c      *Config
	lineOf func(path string) int
}

func (v *validator) bad(path, format string, args ...any) error {
	return &Error{File: v.c.File, Line: v.lineOf(path), Key: path, Msg: fmt.Sprintf(format, clipArgs(args)...)}
}

func (c *Config) validate(lineOf func(path string) int) error {
	v := &validator{c: c, lineOf: lineOf}
	switch {
	case c.Version == 0:
		return v.bad("version", "missing; start the file with version: %d", CurrentVersion)
	case c.Version != CurrentVersion:
		return v.bad("version", "unsupported version %d (this build reads version %d)", c.Version, CurrentVersion)
	}
	if len(c.Providers) == 0 {
		return v.bad("providers", "empty; configure at least one registry (see configs/example.yaml)")
	}
	seen := map[string]int{}
	for i := range c.Providers {
		if err := v.provider(i, seen); err != nil {
			return err
		}
	}
	return v.policy(seen)
}

func (v *validator) provider(i int, seen map[string]int) error {
	p := &v.c.Providers[i]
	path := index("providers", i)
	at := func(key string) string { return path + "." + key }

	switch {
	case p.Name == "":
		return v.bad(at("name"), "missing; every provider needs a unique name (used in reports and --provider)")
	case !nameRE.MatchString(p.Name):
		return v.bad(at("name"), "invalid name %q: use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", p.Name)
	}
	if j, dup := seen[p.Name]; dup {
		return v.bad(at("name"), "duplicate name %q (also providers[%d])", p.Name, j)
	}
	seen[p.Name] = i

	switch {
	case p.Kind == "":
		return v.bad(at("kind"), "missing (want one of %s)", kindList())
	case !validKind(p.Kind):
		return v.bad(at("kind"), "unknown kind %q (want one of %s)", p.Kind, kindList())
	}

	lists := []struct {
		key  string
		vals []string
	}{
		{"regions", p.Regions}, {"role_arns", p.RoleARNs}, {"pull_through_cache_prefixes", p.PullThroughCachePrefixes}, {"projects", p.Projects},
		{"locations", p.Locations}, {"registries", p.Registries},
		{"subscriptions", p.Subscriptions}, {"namespaces", p.Namespaces},
	}
	for _, l := range lists {
		if len(l.vals) > 0 && !applies(p.Kind, l.key) {
			return v.bad(at(l.key), "not used by kind %s", p.Kind)
		}
		for j, s := range l.vals {
			if strings.TrimSpace(s) == "" {
				return v.bad(index(at(l.key), j), "empty entry")
			}
		}
	}
	creds := []struct {
		key, val string
	}{
		{"username_env", p.Credentials.UsernameEnv},
		{"password_env", p.Credentials.PasswordEnv},
		{"token_env", p.Credentials.TokenEnv},
	}
	for _, cr := range creds {
		if cr.val == "" {
			continue
		}
		key := "credentials." + cr.key
		if !applies(p.Kind, key) {
			return v.bad(at(key), "not used by kind %s", p.Kind)
		}
		// A value that is not a variable name is most likely the secret
		// pasted in place of the name, so it must not be echoed.
		if what := pastedSecret(cr.val); what != "" {
			return v.bad(at(key), "inline secrets are refused: the value looks like %s, not the name of an environment variable (value not shown); put the secret in an environment variable and write the variable's name here, e.g. REGISTRY_TOKEN", what)
		}
	}

	if p.Endpoint != "" {
		if err := v.endpoint(at("endpoint"), p.Endpoint, p.Kind); err != nil {
			return err
		}
	}
	if err := v.kindRules(p, at); err != nil {
		return err
	}
	if ca := p.TLS.CAFile; ca != "" {
		st, err := os.Stat(ca)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return v.bad(at("tls.ca_file"), "%s: no such file", ca)
		case err != nil:
			return v.bad(at("tls.ca_file"), "%s: %v", ca, unwrapPath(err))
		case st.IsDir():
			return v.bad(at("tls.ca_file"), "%s: is a directory, want a PEM file", ca)
		}
	}
	if r := p.Rate.RequestsPerSecond; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return v.bad(at("rate.requests_per_second"), "must be a number >= 0 (0 = the adapter's default)")
	}
	if p.Rate.MaxConcurrent < 0 {
		return v.bad(at("rate.max_concurrent"), "must be >= 0 (0 = the adapter's default)")
	}
	return nil
}

// kindRules checks the keys each kind cannot work without.
func (v *validator) kindRules(p *Provider, at func(string) string) error {
	pair := func() error {
		u, pw := p.Credentials.UsernameEnv, p.Credentials.PasswordEnv
		if u != "" && pw == "" {
			return v.bad(at("credentials.password_env"), "missing; set it together with credentials.username_env")
		}
		if pw != "" && u == "" {
			return v.bad(at("credentials.username_env"), "missing; set it together with credentials.password_env")
		}
		return nil
	}
	switch p.Kind {
	case providers.KindECR:
		if len(p.Regions) == 0 {
			return v.bad(at("regions"), "missing; ecr needs at least one region, e.g. [us-east-1]")
		}
		for j, r := range p.Regions {
			if !regionRE.MatchString(r) {
				return v.bad(index(at("regions"), j), "invalid region %q (want a region code such as us-east-1)", r)
			}
		}
		for j, a := range p.RoleARNs {
			if !roleRE.MatchString(a) {
				return v.bad(index(at("role_arns"), j), "invalid role ARN %q (want arn:aws:iam::123456789012:role/NAME)", a)
			}
		}
	case providers.KindArtifactRegistry:
		if len(p.Projects) == 0 {
			return v.bad(at("projects"), "missing; artifactregistry needs at least one GCP project id")
		}
	case providers.KindACR:
		if len(p.Registries) == 0 && len(p.Subscriptions) == 0 {
			return v.bad(at("registries"), "missing; acr needs registries (login servers such as myreg.azurecr.io) or subscriptions to discover them")
		}
		for j, r := range p.Registries {
			if strings.Contains(r, "/") {
				return v.bad(index(at("registries"), j), "want a login server such as myreg.azurecr.io, not a URL or path")
			}
		}
		return pair()
	case providers.KindDockerHub:
		if len(p.Namespaces) == 0 {
			return v.bad(at("namespaces"), "missing; dockerhub needs at least one namespace (user or organisation)")
		}
		if p.Credentials.TokenEnv == "" {
			return v.bad(at("credentials.token_env"), "missing; dockerhub needs the name of a variable holding a personal or organisation access token")
		}
		if p.Credentials.UsernameEnv == "" {
			return v.bad(at("credentials.username_env"), "missing; dockerhub needs the name of a variable holding the user (or organisation) name")
		}
	case providers.KindQuay:
		if len(p.Namespaces) == 0 {
			return v.bad(at("namespaces"), "missing; quay needs at least one namespace (organisation)")
		}
	case providers.KindHarbor:
		if p.Endpoint == "" {
			return v.bad(at("endpoint"), "missing; harbor needs its base URL, e.g. https://harbor.example.com")
		}
		return pair()
	}
	return nil
}

// endpoint accepts an absolute http(s) URL with a host and no user info.
// Artifact Registry speaks gRPC, whose endpoints are host:port
// (artifactregistry.googleapis.com:443, or an emulator's 127.0.0.1:PORT), so
// there a bare host[:port] is accepted too, and a URL must not have a path.
func (v *validator) endpoint(path, raw, kind string) error {
	grpc := kind == providers.KindArtifactRegistry
	if grpc && !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/@ \t") {
			return v.bad(path, "want host:port (such as artifactregistry.googleapis.com:443) or an http(s) URL")
		}
		host := raw
		if h, _, err := net.SplitHostPort(raw); err == nil {
			host = h
		}
		if host == "" {
			return v.bad(path, "want host:port (such as artifactregistry.googleapis.com:443) or an http(s) URL")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if grpc {
			return v.bad(path, "want host:port (such as artifactregistry.googleapis.com:443) or an http(s) URL")
		}
		return v.bad(path, "want an absolute http(s) URL such as https://registry.example.com")
	}
	if u.User != nil {
		return v.bad(path, "credentials in the URL are refused (value not shown); put the secret in an environment variable and name it under credentials")
	}
	// No registry API root takes a query string, and one is where
	// access_token=... ends up: refused like user:password, not echoed.
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return v.bad(path, "a query string or fragment in the URL is refused (value not shown): it can carry credentials such as access_token=, and a registry API root needs none")
	}
	if grpc && u.Path != "" && u.Path != "/" {
		return v.bad(path, "a gRPC endpoint has no path; want host:port or http(s)://host:port")
	}
	return nil
}

func (v *validator) policy(names map[string]int) error {
	pol := &v.c.Policy
	for i, p := range pol.MutableTagsAllowed {
		if strings.TrimSpace(p) == "" {
			return v.bad(index("policy.mutable_tags_allowed", i), "empty pattern")
		}
	}
	for i, e := range pol.Exemptions {
		path := index("policy.exemptions", i)
		if strings.TrimSpace(e.Repository) == "" {
			return v.bad(path+".repository", "missing; a repository name or glob such as sandbox/*")
		}
		if strings.TrimSpace(e.Reason) == "" {
			return v.bad(path+".reason", "missing; say why the repository may stay mutable (the report keeps it)")
		}
		// A literal provider name that matches nothing is a typo that would
		// silently exempt nothing.
		if e.Provider != "" && !strings.Contains(e.Provider, "*") {
			if _, ok := names[e.Provider]; !ok {
				return v.bad(path+".provider", "no provider named %q (configured: %s)", e.Provider, strings.Join(v.names(), ", "))
			}
		}
	}
	return nil
}

func (v *validator) names() []string {
	out := make([]string, 0, len(v.c.Providers))
	for _, p := range v.c.Providers {
		out = append(out, p.Name)
	}
	return out
}

// unwrapPath drops the path from an *fs.PathError: the message names the
// file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// tokenShapes are the credential formats users paste where a variable name
// belongs, with what to call them in the error (never the value).
var tokenShapes = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`^dckr_(pat|oat)_`), "a Docker Hub access token"},
	{regexp.MustCompile(`^(ghp|gho|ghu|ghs|ghr)_|^github_pat_`), "a GitHub token"},
	{regexp.MustCompile(`^glpat-`), "a GitLab token"},
	{regexp.MustCompile(`^(AKIA|ASIA)[0-9A-Z]{16}$`), "an AWS access key id"},
	{regexp.MustCompile(`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.`), "a JWT (a bearer token)"},
}

// pastedSecret says what an *_env value probably is when it is not a
// conventional variable name (upper case, digits, underscore), or "".
func pastedSecret(val string) string {
	for _, s := range tokenShapes {
		if s.re.MatchString(val) {
			return s.what
		}
	}
	if !envRE.MatchString(val) {
		return "a secret (a variable name is upper case letters, digits and underscores)"
	}
	return ""
}
